"""Telling the person about their consent's end: one reminder before it expires, one notice when it has.

Both are Notification rows (with `consent` set) delivered by the request notifications' task, so they share
its retries, its gateway idempotency key (`consent-notification-<id>`) and the beat sweep that re-queues
what a broker outage lost. A unique constraint allows one of each per consent: a retried, doubled or
killed sweep cannot queue a second one.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from consent.models import Consent, Notification
from identity.queueing import enqueue_on_commit

__all__ = ["consent_expiry_reminders_queue", "consent_notice_queue"]


def consent_notice_queue(*, consent: Consent, reason: str) -> Notification | None:
    """Queue one notice about `consent` (sent after commit). Call inside the transaction holding its row lock.

    None when this notice already exists. Whether it may still go (the person may delete their account
    meanwhile; a deleted person gets nothing) is decided when it is delivered: notify._consent_message.
    """
    if Notification.objects.filter(consent=consent, reason=reason).exists():
        return None
    from consent.tasks import request_notify_task  # consent.tasks imports consent.services: a cycle

    notification = Notification.objects.create(
        request_id=consent.item.request_id, consent=consent, reason=reason, requested_by=""
    )
    enqueue_on_commit(request_notify_task, notification.pk)
    return notification


def _reminder_due(now: datetime, window: timedelta):
    return (
        Consent.objects.filter(
            state=Consent.State.ACTIVE,
            valid_until__gt=now,
            valid_until__lte=now + window,
            # Granted inside the window (a short consent): the person saw the end date minutes ago.
            granted_at__lt=F("valid_until") - window,
        )
        .exclude(notifications__reason=Notification.Reason.EXPIRY_REMINDER)
        .order_by("pk")
    )


def consent_expiry_reminders_queue(*, now: datetime | None = None) -> int:
    """Queue a reminder for each active consent ending within CONSENT_EXPIRY_REMINDER_DAYS (0: none).

    Idempotent, one short transaction per consent, like the expiry sweep: a run cut off half-way leaves
    whole reminders behind, and the next run queues the rest. Returns how many it queued.
    """
    now = now or timezone.now()
    window = timedelta(days=settings.CONSENT_EXPIRY_REMINDER_DAYS)  # 0 days: an empty window, no reminder
    queued = 0
    for consent_id in _reminder_due(now, window).values_list("pk", flat=True):
        with transaction.atomic():
            # Only the consent's row is locked, as the expiry sweep and a withdrawal lock it: not the person's.
            consent = Consent.objects.select_for_update(of=("self",)).select_related("item").get(pk=consent_id)
            if consent.state != Consent.State.ACTIVE:
                continue  # withdrawn or expired since the query (its dates never change)
            if consent_notice_queue(consent=consent, reason=Notification.Reason.EXPIRY_REMINDER):
                queued += 1
    return queued
