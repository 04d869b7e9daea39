"""A request's notification: the task owns the retries, one gateway attempt per try, against a local fake gateway.

Tasks run eagerly here, so a retry runs at once (Celery ignores the countdown in eager mode); a spy on
``Task.retry`` records the countdowns the task asked for.
"""

import pytest

from audit.models import AuditEvent
from consent import services
from consent.models import Notification
from consent.tasks import request_notify_task
from tests.conftest import retry_countdowns
from tests.consent.conftest import request_input
from tests.identity.conftest import fake  # noqa: F401  (the local fake gateway fixture)

pytestmark = pytest.mark.django_db


@pytest.fixture
def notification(organization, operator, monkeypatch):
    """A request whose notification is still queued (as if the broker held it)."""
    with monkeypatch.context() as queueing:
        queueing.setattr(request_notify_task, "delay", lambda *args: None)
        request = services.request_create(actor=operator, organization=organization, data=request_input())
    return request.notifications.get()


@pytest.fixture
def gateway(settings, fake):  # noqa: F811
    settings.SMS_BACKEND = "identity.sms.HttpSmsBackend"
    fake.configure(settings, "SMS_HTTP", "/sms", timeout=0.3)
    return fake


@pytest.fixture
def countdowns(monkeypatch):
    return retry_countdowns(monkeypatch, request_notify_task)


def test_a_gateway_that_stays_down_is_tried_max_retries_plus_one_times_then_the_notification_fails(
    notification, gateway, countdowns, settings
):
    settings.REQUEST_NOTIFY_MAX_RETRIES = 4
    for _ in range(20):
        gateway.script(status=503, json={"error": "busy"})
    result = request_notify_task.apply(args=[notification.pk])
    assert result.failed()
    assert len(gateway.requests) == 5
    assert countdowns[:4] == [30, 60, 120, 240]
    notification.refresh_from_db()
    assert notification.state == Notification.State.FAILED
    assert [a.ok for a in notification.attempts.all()] == [False] * 5
    assert AuditEvent.objects.filter(action="request.notify_failed").count() == 1


def test_the_back_off_is_capped_at_an_hour(notification, gateway, countdowns, settings):
    settings.REQUEST_NOTIFY_MAX_RETRIES = 9
    for _ in range(20):
        gateway.script(status=500, json={"error": "oops"})
    request_notify_task.apply(args=[notification.pk])
    assert len(gateway.requests) == 10
    assert countdowns[:9] == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]


def test_a_timeout_then_success_sends_the_notification_once(notification, gateway, countdowns):
    gateway.script(json={"message_id": "too-late"}, delay=5)
    result = request_notify_task.apply(args=[notification.pk])
    assert result.successful()
    assert len(gateway.requests) == 2
    assert countdowns == [30]
    notification.refresh_from_db()
    assert notification.state == Notification.State.SENT
    assert [a.ok for a in notification.attempts.all()] == [False, True]


def test_a_refused_message_is_recorded_and_never_retried(notification, gateway, countdowns):
    gateway.script(status=400, json={"error": "number barred"})
    result = request_notify_task.apply(args=[notification.pk])
    assert result.successful()
    assert result.get() == "rejected"
    assert len(gateway.requests) == 1
    assert countdowns == []
    notification.refresh_from_db()
    assert notification.state == Notification.State.FAILED
    [attempt] = notification.attempts.all()
    assert not attempt.ok
    assert "HTTP 400" in attempt.error
    assert "number barred" in attempt.error
    event = AuditEvent.objects.get(action="request.notify_failed")
    assert "refused" in event.data["error"]


def test_every_try_of_one_notification_carries_the_same_idempotency_key(notification, gateway, countdowns):
    # The first try times out: the gateway may have texted the person. The retry must be the same message.
    gateway.script(json={"message_id": "too-late"}, delay=5)
    request_notify_task.apply(args=[notification.pk])
    keys = [received.json["idempotency_key"] for received in gateway.requests]
    assert keys == [f"consent-notification-{notification.pk}"] * 2
    assert all(received.signature_ok for received in gateway.requests)


def test_request_texts_and_e_mails_are_plain_text_so_names_and_purposes_arrive_as_typed(
    pat_verified, organization, operator
):
    """SMS and e-mail are not HTML: "&", quotes and angle brackets stay themselves, not entities."""
    from django.core import mail as django_mail

    from consent.builders import build_granted_consent, face_item
    from identity import services as identity_services
    from identity.crypto import mask_phone
    from identity.models import OutboxMessage
    from tests.consent.conftest import PERSON_PHONE

    identity_services.organization_update(actor="test", organization=organization, name="Li & Wang 影视")
    item = face_item(purpose='Trailer "Spring" <cut 2>', usage="Douyin & WeChat")
    build_granted_consent(
        person=pat_verified, actor=operator, organization=organization, items=[item], email="pat@example.org"
    )
    [sms] = OutboxMessage.objects.filter(to=mask_phone(PERSON_PHONE), channel="sms").values_list("body", flat=True)
    assert "Li & Wang 影视" in sms and "&amp;" not in sms
    [email] = django_mail.outbox
    assert "Li & Wang 影视" in email.subject
    assert 'Trailer "Spring" <cut 2>' in email.body and "Douyin & WeChat" in email.body
    assert "&amp;" not in email.body + email.subject and "&quot;" not in email.body and "&lt;" not in email.body
