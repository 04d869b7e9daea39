"""Exports of the back-office lists: each one is an event on the organisation's audit trail."""

from django.db import transaction

import audit
from identity.models import Organization, User

__all__ = ["office_export_record"]


@transaction.atomic
def office_export_record(*, actor: User, organization: Organization, list_name: str, filters: dict, rows: int) -> None:
    """Record who took which rows out of the office (a CSV holds personal data, so taking it is logged)."""
    audit.record(
        actor,
        "office.export",
        organization,
        {"list": list_name, "filters": {k: str(v) for k, v in filters.items() if v}, "rows": rows},
        organization=organization,
    )
