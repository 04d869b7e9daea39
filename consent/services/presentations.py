"""The log of token presentations: every verify call, whatever the answer (Provisions Art. 10)."""

import functools

from django.db import connection
from django.utils import timezone

from consent.models import ApiKey, Consent, Presentation
from hotsql import hot_cursor

__all__ = ["presentation_log", "presentation_record"]


def presentation_record(
    *,
    consent: Consent | None,
    api_key: ApiKey,
    modality: str,
    operation: str,
    media_sha256: str,
    result: str,
    reason: str,
    client_ip: str | None,
) -> Presentation:
    """Log one presentation (the row `presentation_log` writes) and return it as a model instance.

    One insert, no audit chain append: presentations are the high-volume log themselves, and
    serialising every verify call on the audit head would make the hot path a single queue.
    """
    presentation_id = presentation_log(
        consent_id=consent.pk if consent is not None else None,
        api_key_id=api_key.pk,
        organization_id=api_key.organization_id,
        modality=modality,
        operation=operation,
        media_sha256=media_sha256,
        result=result,
        reason=reason,
        client_ip=client_ip,
    )
    return Presentation.objects.get(pk=presentation_id)


@functools.cache
def _insert_sql() -> str:
    columns = [
        "consent_id",
        "api_key_id",
        "organization_id",
        "modality",
        "operation",
        "media_sha256",
        "result",
        "reason",
        "client_ip",
        "created_at",
    ]
    placeholders = ", ".join(["%s"] * len(columns))
    # The table name from the model, every value a parameter.
    return f"INSERT INTO {Presentation._meta.db_table} ({', '.join(columns)}) VALUES ({placeholders}) RETURNING id"  # noqa: S608


def presentation_log(
    *,
    consent_id: int | None,
    api_key_id: int,
    organization_id: int,
    modality: str,
    operation: str,
    media_sha256: str,
    result: str,
    reason: str,
    client_ip: str | None,
) -> int:
    """Log one presentation as one precompiled INSERT and return its id (the verify hot path calls it directly).

    Committed (autocommit) before the caller answers, like the ORM insert it replaces on that path.
    """
    ops = connection.ops
    values = [
        consent_id,
        api_key_id,
        organization_id,
        modality,
        operation,
        media_sha256,
        result,
        reason,
        ops.adapt_ipaddressfield_value(client_ip),
        ops.adapt_datetimefield_value(timezone.now()),
    ]
    with hot_cursor() as cursor:
        cursor.execute(_insert_sql(), values)
        return cursor.fetchone()[0]
