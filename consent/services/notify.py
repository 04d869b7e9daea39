"""Delivering a notification to the person: SMS (and e-mail when known), each attempt recorded.

A request's notice carries its link; a consent's (reminder before it expires, notice that it has) the words
of what it covered and a link to it in the portal.
"""

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation

import audit
from consent.models import Consent, ConsentRequest, Notification, NotificationAttempt
from identity.gateway import GatewayRejected, GatewayUnavailable
from identity.sms import sms_send

__all__ = [
    "consent_link",
    "notification_deliver",
    "notification_idempotency_key",
    "notifications_sweep",
    "request_link",
]


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


@dataclass(frozen=True)
class _Message:
    """What one notification says, to whom, in the person's language."""

    phone: str
    email: str
    sms: str
    subject: str = ""
    body: str = ""


def _request_message(notification: Notification) -> _Message | None:
    """The request's link; None once the request is no longer pending (nothing left to decide)."""
    request = notification.request
    if request.state != ConsentRequest.State.PENDING:
        return None
    subject = body = ""
    if request.person_email:
        with translation.override(request.language):
            subject = render_to_string("email/request-subject.txt", {"organization": request.organization}).strip()
        body = _render(request, "email/request-body.txt")
    return _Message(
        request.person_phone, request.person_email, _render(request, "sms/request.txt"), subject=subject, body=body
    )


def consent_link(consent: Consent) -> str:
    return f"{settings.SITE_URL}/me/consents/{consent.pk}/"


def _consent_message(notification: Notification) -> _Message | None:
    """A notice about a consent's end; None if it must not go: the person deleted their account, or the
    consent a reminder is about has ended already (withdrawn or expired: the reminder says nothing true)."""
    consent = notification.consent
    person = consent.person
    if person.erased_at is not None:
        return None
    if notification.reason == Notification.Reason.EXPIRY_REMINDER and (
        consent.state != Consent.State.ACTIVE or consent.valid_until <= timezone.now()
    ):
        return None
    request = consent.item.request
    email = person.email or request.person_email
    name = "consent_expired" if notification.reason == Notification.Reason.EXPIRED else "consent_expiry_reminder"
    context = {
        "consent": consent,
        "item": consent.item,
        "organization": consent.organization,
        "link": consent_link(consent),
    }
    with translation.override(request.language):
        return _Message(
            person.phone,
            email,
            render_to_string(f"sms/{name}.txt", context).strip(),
            subject=render_to_string(f"email/{name}-subject.txt", context).strip() if email else "",
            body=render_to_string(f"email/{name}-body.txt", context).strip() if email else "",
        )


def notification_deliver(*, notification_id: int, final: bool = False) -> str:
    """Send one notification. Idempotent: a notification already sent is not sent again.

    Raises GatewayUnavailable so that the task retries; on the final attempt the notification is marked failed.
    A refusal by the gateway (GatewayRejected) is permanent: recorded, marked failed at once, not raised.
    """
    notification = Notification.objects.select_related(
        "request__organization", "consent__organization", "consent__person", "consent__item__request"
    ).get(pk=notification_id)
    if notification.state in (Notification.State.SENT, Notification.State.SKIPPED):
        return "already sent" if notification.state == Notification.State.SENT else "not to be sent"
    if notification.consent_id is None:
        message = _request_message(notification)
        if message is None:
            _finish(notification, Notification.State.FAILED, "request no longer pending")
            return "request closed"
    else:
        message = _consent_message(notification)
        if message is None:
            _finish(notification, Notification.State.SKIPPED, "person deleted or consent no longer active")
            return "not to be sent"
    try:
        reference = sms_send(
            phone=message.phone, text=message.sms, idempotency_key=notification_idempotency_key(notification)
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
    if message.email:
        try:
            send_mail(message.subject, message.body, None, [message.email])
        except Exception as exc:  # mail is a second channel; the SMS went out, so record and go on
            _attempt(notification, "email", False, error=f"{type(exc).__name__}: {exc}")
        else:
            _attempt(notification, "email", True)
    _finish(notification, Notification.State.SENT, "")
    return reference


AUDIT_ACTIONS = {
    # (about a consent?, state): action
    (False, Notification.State.SENT): "request.notified",
    (False, Notification.State.FAILED): "request.notify_failed",
    (True, Notification.State.SENT): "consent.notified",
    (True, Notification.State.FAILED): "consent.notify_failed",
    (True, Notification.State.SKIPPED): "consent.notify_skipped",
}


@transaction.atomic
def _finish(notification: Notification, state: str, error: str) -> None:
    notification.state = state
    notification.sent_at = timezone.now() if state == Notification.State.SENT else None
    notification.save(update_fields=["state", "sent_at"])
    about_consent = notification.consent_id is not None
    target = notification.consent if about_consent else notification.request
    data = {"organization": target.organization_id, "error": error}
    if about_consent:
        data["reason"] = notification.reason
    action = AUDIT_ACTIONS[(about_consent, state)]
    audit.record("notifier", action, target, data)


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
