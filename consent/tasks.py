"""Celery tasks of the consent app: take ids, load, call one service, idempotent."""

from celery import shared_task

from consent import services, webhooks
from consent.services.notify import notification_deliver
from identity.gateway import GatewayUnavailable


@shared_task(bind=True, max_retries=8)
def request_notify_task(self, notification_id: int):
    """Send the SMS (and e-mail) for one notification; retried with back-off while the gateway is down."""
    try:
        return notification_deliver(notification_id=notification_id, final=self.request.retries >= self.max_retries)
    except GatewayUnavailable as exc:
        raise self.retry(exc=exc, countdown=min(30 * 2**self.request.retries, 3600)) from exc


@shared_task
def consent_expire_task():
    return services.consents_expire()


@shared_task
def webhook_deliver_task(event_id: int):
    return webhooks.event_deliver(event_id=event_id)


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
