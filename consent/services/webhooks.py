"""Webhook outbox: events are written in the transaction of the change they describe."""

import secrets

from django.db import transaction
from django.utils import timezone

from consent.models import WebhookEvent
from identity.models import Organization

__all__ = ["webhook_event_add"]


def webhook_event_add(*, organization: Organization, type: str, payload: dict) -> WebhookEvent:
    """Add an event to the outbox; delivery starts after commit (and is retried from the outbox if that fails)."""
    event = WebhookEvent.objects.create(
        organization=organization,
        event_id=f"msg_{secrets.token_hex(12)}",
        type=type,
        payload={"type": type, "timestamp": timezone.now().isoformat(), "data": payload},
        next_attempt_at=timezone.now(),
    )
    transaction.on_commit(lambda: _deliver_later(event.pk))
    return event


def _deliver_later(event_id: int) -> None:
    from consent.tasks import webhook_deliver_task

    try:
        webhook_deliver_task.delay(event_id)
    except Exception:  # broker down: the event stays pending in the outbox and the sweeper sends it later
        import logging

        logging.getLogger(__name__).warning("webhook event %s queued in the outbox only (broker unavailable)", event_id)
