"""How the consent service treats one organisation, set by platform staff."""

from django.db import transaction

import audit
from consent.models import OrganizationSettings, StatementPolicy
from identity.models import Organization

__all__ = ["organization_settings_set"]


@transaction.atomic
def organization_settings_set(
    *, actor, organization: Organization, require_media_binding: bool, statement_policy: str | None = None
) -> OrganizationSettings:
    """Media binding on or off for every token an organisation's services present, and when its requests
    need a recorded consent statement (None leaves that as it is)."""
    settings, _ = OrganizationSettings.objects.select_for_update().get_or_create(organization=organization)
    changed = {}
    if settings.require_media_binding != require_media_binding:
        settings.require_media_binding = changed["require_media_binding"] = require_media_binding
    if statement_policy is not None and settings.statement_policy != statement_policy:
        if statement_policy not in StatementPolicy.values:
            raise ValueError(f"unknown statement policy {statement_policy!r}")
        settings.statement_policy = changed["statement_policy"] = statement_policy
    if changed:
        settings.save(update_fields=[*changed, "updated_at"])
        audit.record(
            actor,
            "organization.settings_update",
            organization,
            {"organization": organization.pk, **changed},
            organization=organization,
        )
    return settings
