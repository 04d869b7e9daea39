"""Retention of the consent app's own logs: idempotency answers and the webhook outbox."""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

import audit
from consent.models import IdempotencyRecord, WebhookEvent
from consent.uploads import kept_purge

__all__ = ["IDEMPOTENCY_KEEP", "consent_logs_purge"]

IDEMPOTENCY_KEEP = timedelta(days=7)  # retries come within minutes; a week is generous


@transaction.atomic
def consent_logs_purge(*, now=None) -> dict:
    """Drop idempotency answers after a week, and finished webhook events (with their delivery log, and
    the tokens their payloads carry) after the audit retention period (at least 180 days)."""
    now = now or timezone.now()
    idempotency, _ = IdempotencyRecord.objects.filter(created_at__lt=now - IDEMPOTENCY_KEEP).delete()
    finished = WebhookEvent.objects.filter(
        created_at__lt=now - timedelta(days=settings.AUDIT_RETENTION_DAYS),
        state__in=[WebhookEvent.State.DELIVERED, WebhookEvent.State.FAILED, WebhookEvent.State.NO_ENDPOINT],
    )
    events = finished.count()
    finished.delete()
    result = {"idempotency_records": idempotency, "webhook_events": events, "kept_uploads": kept_purge(now=now)}
    if idempotency or events or result["kept_uploads"]:
        audit.record("retention purge", "consent.logs_purge", None, result)
    return result
