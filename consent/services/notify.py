"""Delivering a request's notification to the person: SMS (and e-mail when known), each attempt recorded."""

from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation

import audit
from consent.models import ConsentRequest, Notification, NotificationAttempt
from identity.gateway import GatewayRejected, GatewayUnavailable
from identity.sms import sms_send

__all__ = ["notification_deliver", "notification_idempotency_key", "notifications_sweep", "request_link"]


def request_link(request: ConsentRequest) -> str:
    return f"{settings.SITE_URL}/r/{request.code}"


def _render(request: ConsentRequest, name: str) -> str:
    context = {
        "request": request,
        "organization": request.organization,
        "items": list(request.items.all()),
        "link": request_link(request),
    }
    with translation.override(request.language):
        return render_to_string(name, context).strip()


def _attempt(notification: Notification, channel: str, ok: bool, reference: str = "", error: str = "") -> None:
    NotificationAttempt.objects.create(
        notification=notification, channel=channel, ok=ok, reference=reference[:100], error=error[:300]
    )


def notification_idempotency_key(notification: Notification) -> str:
    """The key the SMS gateway dedupes on: the same for every retry of one notification, never reused.

    The send and its record cannot share a transaction: a worker killed between the two runs the task
    again (acks_late), and this key makes that second send the same message at the gateway.
    """
    return f"consent-notification-{notification.pk}"


def notification_deliver(*, notification_id: int, final: bool = False) -> str:
    """Send one notification. Idempotent: a notification already sent is not sent again.

    Raises GatewayUnavailable so that the task retries; on the final attempt the notification is marked failed.
    A refusal by the gateway (GatewayRejected) is permanent: recorded, marked failed at once, not raised.
    """
    notification = Notification.objects.select_related("request__organization").get(pk=notification_id)
    request = notification.request
    if notification.state == Notification.State.SENT:
        return "already sent"
    if request.state != ConsentRequest.State.PENDING:
        _finish(notification, Notification.State.FAILED, "request no longer pending")
        return "request closed"
    try:
        reference = sms_send(
            phone=request.person_phone,
            text=_render(request, "sms/request.txt"),
            idempotency_key=notification_idempotency_key(notification),
        )
    except GatewayUnavailable as exc:
        _attempt(notification, "sms", False, error=str(exc))
        if final:
            _finish(notification, Notification.State.FAILED, f"SMS gateway unavailable: {exc}")
        raise
    except GatewayRejected as exc:
        _attempt(notification, "sms", False, error=str(exc))
        _finish(notification, Notification.State.FAILED, f"SMS gateway refused the message: {exc}")
        return "rejected"
    _attempt(notification, "sms", True, reference=reference)
    if request.person_email:
        try:
            with translation.override(request.language):
                subject = render_to_string("email/request-subject.txt", {"organization": request.organization}).strip()
            send_mail(subject, _render(request, "email/request-body.txt"), None, [request.person_email])
        except Exception as exc:  # mail is a second channel; the SMS went out, so record and go on
            _attempt(notification, "email", False, error=f"{type(exc).__name__}: {exc}")
        else:
            _attempt(notification, "email", True)
    _finish(notification, Notification.State.SENT, "")
    return reference


@transaction.atomic
def _finish(notification: Notification, state: str, error: str) -> None:
    notification.state = state
    notification.sent_at = timezone.now() if state == Notification.State.SENT else None
    notification.save(update_fields=["state", "sent_at"])
    action = "request.notified" if state == Notification.State.SENT else "request.notify_failed"
    audit.record(
        "notifier", action, notification.request, {"organization": notification.request.organization_id, "error": error}
    )


def notifications_sweep(*, now=None) -> int:
    """Queue notifications still waiting a few minutes after they were created (the broker was down)."""
    # consent.tasks imports consent.services: a module-level import would close the cycle.
    from consent.tasks import request_notify_task

    now = now or timezone.now()
    waiting = Notification.objects.filter(
        state=Notification.State.QUEUED,
        created_at__lt=now - timedelta(minutes=3),
        created_at__gt=now - timedelta(days=1),
    ).values_list("pk", flat=True)[:200]
    for notification_id in waiting:
        request_notify_task.delay(notification_id)
    return len(waiting)
