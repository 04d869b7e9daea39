"""Celery tasks of the consent app: take ids, load, call one service, idempotent."""

from datetime import datetime

from celery import shared_task
from django.conf import settings

from consent import services, webhooks
from consent.services.notify import notification_deliver
from identity.gateway import GatewayUnavailable, retry_later

# A request link stays useful for days, so the back-off may grow to an hour: 30 s, 1 min, 2 min, … 1 h.
NOTIFY_RETRY_BASE_SECONDS = 30
NOTIFY_RETRY_CAP_SECONDS = 3600


@shared_task(bind=True)
def request_notify_task(self, notification_id: int):
    """Send the SMS (and e-mail) for one notification: a request's, or a consent's reminder or expiry notice.

    The gateway makes one attempt per call; this task retries with back-off while it is temporarily
    down, up to REQUEST_NOTIFY_MAX_RETRIES times. A refusal is recorded by the service and not retried.
    """
    max_retries = settings.REQUEST_NOTIFY_MAX_RETRIES
    try:
        return notification_deliver(notification_id=notification_id, final=self.request.retries >= max_retries)
    except GatewayUnavailable as exc:
        raise retry_later(
            self, exc, base=NOTIFY_RETRY_BASE_SECONDS, cap=NOTIFY_RETRY_CAP_SECONDS, max_retries=max_retries
        ) from exc


def _at(now: str | None) -> datetime | None:
    """A task's `now=` argument (ISO 8601, as the sweep that queued it saw the time), or None for the clock."""
    return datetime.fromisoformat(now) if now else None


@shared_task
def consent_expire_task(now: str | None = None):
    return services.consents_expire(now=_at(now))


@shared_task
def consent_expiry_remind_task(now: str | None = None):
    """Hourly through beat: queue the reminders of consents ending within CONSENT_EXPIRY_REMINDER_DAYS."""
    return services.consent_expiry_reminders_queue(now=_at(now))


@shared_task
def webhook_deliver_task(event_id: int, now: str | None = None):
    return webhooks.event_deliver(event_id=event_id, now=_at(now))


@shared_task
def consent_sweep_task():
    """Pick up work whose queueing was lost (broker outage): webhooks, notifications, artifacts."""
    return {
        "webhooks": webhooks.events_sweep(),
        "notifications": services.notifications_sweep(),
        "artifacts": services.artifacts_sweep(),
    }


@shared_task
def consent_logs_purge_task():
    return services.consent_logs_purge()


@shared_task
def statement_check_task(statement_id: int):
    """The same-person check of one recorded statement (a few seconds of CPU; idempotent)."""
    return services.statement_check(statement_id=statement_id).state


@shared_task
def samples_erase_task():
    """Hourly through beat: erase the reference samples whose retention period is over."""
    return services.samples_erase_due()
