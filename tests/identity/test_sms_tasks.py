"""The SMS code task owns the retries: back-off on temporary gateway failures, none on refusals.

Tasks run eagerly here, so a retry runs at once (Celery's eager apply ignores the countdown); the
countdowns the task asked for are recorded by a spy on ``Task.retry``.
"""

import logging
import time
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from identity import services
from identity.models import PhoneDevice
from identity.tasks import sms_code_deliver_task, sms_code_idempotency_key
from tests.conftest import retry_countdowns
from tests.identity.fake_gateway import closed_port_url

pytestmark = pytest.mark.django_db

PHONE = "+8613912345678"


@pytest.fixture
def no_sleep(monkeypatch):
    def refuse(seconds):
        raise AssertionError(f"time.sleep({seconds}) called")

    monkeypatch.setattr(time, "sleep", refuse)


@pytest.fixture
def device(settings):
    """A person with a fresh sign-in code, issued while SMS still went to the dev outbox."""
    settings.SMS_BACKEND = "identity.sms.OutboxSmsBackend"
    person = services.person_for_phone(phone=PHONE)
    return services.sms_code_send(person=person, ip=None)


@pytest.fixture
def gateway(settings, fake, device):
    """From now on SMS goes to the local fake gateway."""
    settings.SMS_BACKEND = "identity.sms.HttpSmsBackend"
    fake.configure(settings, "SMS_HTTP", "/sms", timeout=0.3)
    return fake


@pytest.fixture
def countdowns(monkeypatch):
    return retry_countdowns(monkeypatch, sms_code_deliver_task)


def test_a_gateway_that_stays_down_is_tried_max_retries_plus_one_times_with_growing_countdowns(
    gateway, device, countdowns, settings, no_sleep
):
    settings.SMS_CODE_DELIVER_MAX_RETRIES = 5
    for _ in range(10):
        gateway.script(status=503, json={"error": "busy"})
    result = sms_code_deliver_task.apply(args=[device.pk])
    assert result.failed()
    assert len(gateway.requests) == 6  # one attempt per try, never more: 1 + 5 retries
    assert countdowns[:5] == [2, 4, 8, 16, 32]
    assert len({r.headers["x-nonce"] for r in gateway.requests}) == 6


def test_a_timeout_is_retried_and_the_next_answer_delivers_the_code(gateway, device, countdowns, no_sleep):
    gateway.script(json={"message_id": "too-late"}, delay=5)
    gateway.script(status=502, json={"error": "bad gateway"})
    result = sms_code_deliver_task.apply(args=[device.pk])
    assert result.successful()
    assert result.get() == "m-3"
    assert len(gateway.requests) == 3
    assert countdowns == [2, 4]
    assert device.token in gateway.requests[-1].json["text"]


def test_a_connection_failure_is_retried(gateway, device, countdowns, settings):
    settings.SMS_HTTP_URL = closed_port_url("/sms")
    settings.SMS_CODE_DELIVER_MAX_RETRIES = 1
    result = sms_code_deliver_task.apply(args=[device.pk])
    assert result.failed()
    assert "connection failed" in str(result.result)
    assert countdowns[:1] == [2]


def test_a_refused_message_is_logged_and_never_retried(gateway, device, countdowns, caplog):
    gateway.script(status=400, json={"error": "bad number"})
    with caplog.at_level(logging.ERROR, logger="identity.tasks"):
        result = sms_code_deliver_task.apply(args=[device.pk])
    assert result.successful()
    assert result.get() is None
    assert len(gateway.requests) == 1
    assert countdowns == []
    assert "HTTP 400" in caplog.text
    assert "bad number" in caplog.text


def test_the_gateways_retry_after_stretches_the_countdown(gateway, device, countdowns):
    gateway.script(status=429, json={"error": "slow down"}, headers={"Retry-After": "20"})
    result = sms_code_deliver_task.apply(args=[device.pk])
    assert result.successful()
    assert countdowns == [20]


def test_a_retry_after_the_code_expired_sends_nothing(gateway, device, countdowns):
    with time_machine.travel(timezone.now() + timedelta(minutes=6)):
        result = sms_code_deliver_task.apply(args=[device.pk])
    assert result.get() is None
    assert gateway.requests == []


@pytest.fixture
def http_sms(settings, fake):
    """SMS goes to the local fake gateway from the first code on."""
    settings.SMS_BACKEND = "identity.sms.HttpSmsBackend"
    fake.configure(settings, "SMS_HTTP", "/sms", timeout=0.3)
    return fake


def test_every_try_of_one_code_carries_the_same_idempotency_key_and_a_new_code_a_new_one(http_sms, countdowns):
    person = services.person_for_phone(phone=PHONE)
    http_sms.script(json={"message_id": "too-late"}, delay=5)  # the first try times out: it may have gone out
    with time_machine.travel(timezone.now(), tick=False) as clock:
        first = services.sms_code_send(person=person, ip=None)
        first_code = first.token
        clock.shift(timedelta(seconds=61))  # past the send cooldown
        second = services.sms_code_send(person=person, ip=None)

    keys = [received.json.get("idempotency_key") for received in http_sms.requests]
    assert countdowns == [2]  # one retry, of the first code
    assert keys[0] == keys[1] == sms_code_idempotency_key(first) != keys[2] == sms_code_idempotency_key(second)
    assert [first_code in r.json["text"] for r in http_sms.requests] == [True, True, False]
    assert second.token in http_sms.requests[2].json["text"]
    assert first_code not in keys[0] and second.token not in keys[2]  # the key names a code, never carries it
    assert all(received.signature_ok for received in http_sms.requests)


def test_a_retry_of_a_superseded_code_sends_nothing(http_sms):
    person = services.person_for_phone(phone=PHONE)
    with time_machine.travel(timezone.now(), tick=False) as clock:
        first_key = sms_code_idempotency_key(services.sms_code_send(person=person, ip=None))
        clock.shift(timedelta(seconds=61))
        services.sms_code_send(person=person, ip=None)
        sent = len(http_sms.requests)
        # The first code's task, redelivered after the second code was issued (its worker died mid-send).
        device_id = PhoneDevice.objects.get(user=person.user).pk
        result = sms_code_deliver_task.apply(args=[device_id, "", first_key])
    assert result.get() is None
    assert len(http_sms.requests) == sent == 2
