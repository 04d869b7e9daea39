"""Webhooks: signed Standard Webhooks deliveries from the outbox to a real local HTTP receiver.

The receiver checks every signature with its own implementation of the Standard Webhooks algorithm
(below), not with the code under test. Time is moved with time_machine; nothing sleeps.
"""

import base64
import hashlib
import hmac
import itertools
import json
import threading
from contextlib import contextmanager
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import time_machine
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from audit.models import AuditEvent
from consent import webhooks
from consent.errors import InvalidRequest
from consent.models import Consent, ConsentToken, WebhookDelivery, WebhookEndpoint, WebhookEvent
from consent.services import (
    consent_grant,
    consent_revoke,
    item_deny,
    request_open,
    webhook_endpoint_delete,
    webhook_endpoint_set,
    webhook_event_resend,
)
from consent.tasks import webhook_deliver_task
from identity.crypto import decrypt
from tests.conftest import wait_for

# ---- the receiver's side, written from the spec (https://www.standardwebhooks.com/) -------------


def receiver_verifies(secret: str, headers: dict, body: bytes) -> bool:
    """Standard Webhooks: HMAC-SHA256 keyed with base64-decode(secret minus "whsec_") over "id.ts.body"."""
    key = base64.b64decode(secret.split("_", 1)[1])
    signed_content = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.{body.decode('utf-8')}"
    expected = base64.b64encode(hmac.new(key, signed_content.encode("utf-8"), hashlib.sha256).digest()).decode()
    return any(
        version == "v1" and hmac.compare_digest(value, expected)
        for version, _, value in (part.partition(",") for part in headers["webhook-signature"].split(" "))
    )


class Receiver:
    """A real HTTP endpoint on 127.0.0.1 that records what arrives and answers with scripted statuses."""

    def __init__(self):
        self.secret = ""
        self.received: list[dict] = []
        self.answers: list[int] = []  # consumed in order; 204 once empty
        self.gate: threading.Event | None = None  # when set up, hold each answer until the test opens it
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                headers = {key.lower(): value for key, value in self.headers.items()}
                with receiver.lock:
                    receiver.received.append(
                        {
                            "path": self.path,
                            "headers": headers,
                            "body": body,
                            "json": json.loads(body),
                            "valid": receiver_verifies(receiver.secret, headers, body),
                        }
                    )
                    status = receiver.answers.pop(0) if receiver.answers else 204
                if receiver.gate is not None:
                    receiver.gate.wait(timeout=30)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        # shutdown() waits for the serve loop's next poll: the default 0.5 s would be each test's teardown.
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/consent"


@pytest.fixture
def receiver(settings):
    settings.WEBHOOK_ALLOW_LOOPBACK = True  # the receiver is on 127.0.0.1; everything else runs with DEBUG off
    receiver = Receiver()
    receiver.thread.start()
    yield receiver
    if receiver.gate is not None:
        receiver.gate.set()
    receiver.server.shutdown()
    receiver.server.server_close()


def local_endpoint_set(*, actor, organization, url: str, **kwargs):
    """Plain http:// to 127.0.0.1 is accepted only in development (DEBUG), as for a developer's receiver."""
    with override_settings(DEBUG=True):
        return webhook_endpoint_set(actor=actor, organization=organization, url=url, **kwargs)


@pytest.fixture
def endpoint(organization, operator, receiver):
    endpoint, secret = local_endpoint_set(actor=operator, organization=organization, url=receiver.url)
    receiver.secret = secret
    return endpoint


@pytest.fixture
def pat(pat_verified, pending_request):
    """Pat, verified by real name, with the pending request opened."""
    request_open(person=pat_verified, code=pending_request.code)
    return pat_verified


@pytest.fixture
def clock():
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        yield traveller


def grant(person, request, position: int = 1) -> Consent:
    return consent_grant(actor=person, item_id=request.items.get(position=position).pk)


def event_of(type: str) -> WebhookEvent:
    return WebhookEvent.objects.get(type=type)


def settle(clock, event: WebhookEvent, limit: int = 100) -> WebhookEvent:
    """Let the beat sweep run at each due time until the event is no longer pending."""
    for _ in range(limit):
        event.refresh_from_db()
        if event.state != WebhookEvent.State.PENDING:
            return event
        clock.move_to(event.next_attempt_at)
        assert webhooks.events_sweep() == 1
    raise AssertionError("event still pending")


@contextmanager
def broker_unreachable():
    """Tasks really go to a broker, and nothing listens there (connections fail at once)."""
    from config.celery import app

    names = ("task_always_eager", "broker_url", "task_publish_retry", "broker_transport_options")
    saved = {name: app.conf[name] for name in names}
    saved_pools = app._pool, app.amqp._producer_pool
    app.conf.update(
        task_always_eager=False,
        broker_url="redis://127.0.0.1:1/0",
        task_publish_retry=False,
        broker_transport_options={"max_retries": 1, "interval_start": 0, "interval_step": 0, "interval_max": 0},
    )
    app._pool = app.amqp._producer_pool = None
    try:
        yield
    finally:
        app.conf.update(saved)
        app._pool, app.amqp._producer_pool = saved_pools


# ---- the signature ---------------------------------------------------------------------------


def test_signature_reproduces_the_published_standard_webhooks_vector():
    secret, msg_id, timestamp = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330"
    body = b'{"test": 2432232314}'
    expected = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    assert webhooks.signature(secret, msg_id, timestamp, body) == expected
    headers = {"Webhook-Id": msg_id, "Webhook-Timestamp": timestamp, "Webhook-Signature": f"v1,bm9wZQ== {expected}"}
    with time_machine.travel(1614265330 + 299, tick=False):
        assert webhooks.webhook_signature_verify(secret, headers, body) is True
        assert webhooks.webhook_signature_verify(secret, headers, body + b" ") is False
        assert webhooks.webhook_signature_verify(secret, {**headers, "Webhook-Id": "msg_other"}, body) is False
        other_secret = "whsec_" + base64.b64encode(b"x" * 32).decode()
        assert webhooks.webhook_signature_verify(other_secret, headers, body) is False
        assert (
            webhooks.webhook_signature_verify(secret, {**headers, "Webhook-Signature": "v2," + expected[3:]}, body)
            is False
        )
    with time_machine.travel(1614265330 + 301, tick=False):
        assert webhooks.webhook_signature_verify(secret, headers, body) is False  # outside the replay window


def test_back_off_doubles_from_thirty_seconds_up_to_an_hour():
    delays = [webhooks.retry_delay(n).total_seconds() for n in range(1, 11)]
    assert delays == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]


# ---- delivery --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_granted_event_is_delivered_signed_and_carries_the_token(endpoint, receiver, pat, pending_request):
    consent = grant(pat, pending_request)

    event = event_of("consent.granted")
    assert event.state == WebhookEvent.State.DELIVERED and event.delivered_at is not None
    assert len(receiver.received) == 1
    hit = receiver.received[0]
    assert hit["valid"] is True
    assert hit["path"] == "/hooks/consent"
    assert hit["headers"]["webhook-id"] == event.event_id
    assert hit["headers"]["content-type"].startswith("application/json")
    assert abs(int(hit["headers"]["webhook-timestamp"]) - timezone.now().timestamp()) < 60
    assert webhooks.webhook_signature_verify(receiver.secret, hit["headers"], hit["body"]) is True
    assert hit["json"] == event.payload
    assert hit["json"]["type"] == "consent.granted"
    assert hit["json"]["data"]["consent_id"] == consent.pk
    assert hit["json"]["data"]["token"] == ConsentToken.objects.get(consent=consent).value
    delivery = WebhookDelivery.objects.get(event=event)
    assert (delivery.attempt, delivery.status_code, delivery.error, delivery.url) == (1, 204, "", receiver.url)


@pytest.mark.django_db
def test_denied_and_revoked_events_are_delivered_signed(endpoint, receiver, pat, pending_request):
    consent = grant(pat, pending_request, position=1)
    item_deny(person=pat, item_id=pending_request.items.get(position=2).pk, reason="not my voice")
    consent_revoke(person=pat, consent_id=consent.pk)

    assert [hit["json"]["type"] for hit in receiver.received] == [
        "consent.granted",
        "consent.denied",
        "consent.revoked",
    ]
    assert all(hit["valid"] for hit in receiver.received)
    assert receiver.received[1]["json"]["data"] == {"request_id": pending_request.pk, "item": 2, "modality": "voice"}
    assert receiver.received[2]["json"]["data"] == {"consent_id": consent.pk}
    assert len({hit["headers"]["webhook-id"] for hit in receiver.received}) == 3
    assert set(WebhookEvent.objects.values_list("state", flat=True)) == {WebhookEvent.State.DELIVERED}


@pytest.mark.django_db
def test_a_delivered_event_is_not_sent_again_by_a_repeated_task_or_the_sweep(endpoint, receiver, pat, pending_request):
    grant(pat, pending_request)
    event = event_of("consent.granted")

    assert webhooks.event_deliver(event_id=event.pk) is None
    webhook_deliver_task.delay(event.pk)
    assert webhooks.events_sweep() == 0

    assert len(receiver.received) == 1
    assert WebhookDelivery.objects.filter(event=event).count() == 1


@pytest.mark.django_db
def test_server_error_is_retried_with_growing_back_off_and_a_later_sweep_delivers(
    clock, endpoint, receiver, pat, pending_request
):
    receiver.answers = [500, 500, 503]
    grant(pat, pending_request)
    event = event_of("consent.granted")
    assert event.state == WebhookEvent.State.PENDING
    assert event.attempts == 1
    assert event.next_attempt_at == timezone.now() + timedelta(seconds=30)
    assert webhooks.events_sweep() == 0  # not due yet

    clock.shift(timedelta(seconds=29))
    assert webhooks.events_sweep() == 0
    clock.shift(timedelta(seconds=1))
    assert webhooks.events_sweep() == 1
    event.refresh_from_db()
    assert (event.attempts, event.next_attempt_at) == (2, timezone.now() + timedelta(seconds=60))

    clock.move_to(event.next_attempt_at)
    assert webhooks.events_sweep() == 1
    event.refresh_from_db()
    assert (event.attempts, event.next_attempt_at) == (3, timezone.now() + timedelta(seconds=120))

    clock.move_to(event.next_attempt_at)
    assert webhooks.events_sweep() == 1
    event.refresh_from_db()
    assert event.state == WebhookEvent.State.DELIVERED
    assert event.next_attempt_at is None

    log = list(WebhookDelivery.objects.filter(event=event).order_by("attempt").values_list("attempt", "status_code"))
    assert log == [(1, 500), (2, 500), (3, 503), (4, 204)]
    assert WebhookDelivery.objects.get(event=event, attempt=1).error == "HTTP 500"
    assert len(receiver.received) == 4 and all(hit["valid"] for hit in receiver.received)
    assert {hit["headers"]["webhook-id"] for hit in receiver.received} == {event.event_id}
    timestamps = [int(hit["headers"]["webhook-timestamp"]) for hit in receiver.received]
    assert timestamps == sorted(timestamps) and len(set(timestamps)) == 4  # fresh timestamp per attempt


@pytest.mark.django_db
def test_a_withdrawal_waits_for_its_grant_event_and_follows_it_at_once(clock, endpoint, receiver, pat, pending_request):
    receiver.answers = [503]  # the grant's first attempt fails: it is due again in 30 s
    consent = grant(pat, pending_request)
    granted = event_of("consent.granted")
    clock.shift(timedelta(seconds=10))
    consent_revoke(person=pat, consent_id=consent.pk)
    revoked = event_of("consent.revoked")

    revoked.refresh_from_db()
    assert revoked.state == WebhookEvent.State.PENDING
    assert revoked.attempts == 0  # held back, not tried: the receiver must not hear of it before the grant
    assert revoked.next_attempt_at == granted.next_attempt_at  # not due before the grant's retry
    assert len(receiver.received) == 1
    assert webhooks.events_sweep() == 0

    clock.shift(timedelta(seconds=20))
    webhooks.events_sweep()  # the grant's retry succeeds and sends the withdrawal on straight away

    ids = [hit["headers"]["webhook-id"] for hit in receiver.received]
    assert ids == [granted.event_id, granted.event_id, revoked.event_id]
    revoked.refresh_from_db()
    assert (revoked.state, revoked.attempts) == (WebhookEvent.State.DELIVERED, 1)


@pytest.mark.django_db
def test_events_of_other_consents_are_not_held_back_by_a_failing_one(clock, endpoint, receiver, pat, pending_request):
    receiver.answers = [503]
    grant(pat, pending_request, position=1)
    item_deny(person=pat, item_id=pending_request.items.get(position=2).pk, reason="")

    assert [hit["json"]["type"] for hit in receiver.received] == ["consent.granted", "consent.denied"]
    assert event_of("consent.denied").state == WebhookEvent.State.DELIVERED


@pytest.mark.django_db
def test_an_unreachable_endpoint_is_logged_as_unreachable_and_retried(
    clock, settings, operator, organization, pat, pending_request
):
    settings.WEBHOOK_ALLOW_LOOPBACK = True
    local_endpoint_set(actor=operator, organization=organization, url="http://127.0.0.1:1/hooks")
    grant(pat, pending_request)
    event = event_of("consent.granted")
    delivery = WebhookDelivery.objects.get(event=event)
    assert delivery.status_code is None
    assert delivery.error == "unreachable"  # never the raw connection error (it names the platform's network)
    assert event.state == WebhookEvent.State.PENDING
    assert event.state == WebhookEvent.State.PENDING
    assert event.next_attempt_at == timezone.now() + timedelta(seconds=30)


@pytest.mark.django_db
def test_after_72_hours_of_failures_the_event_is_failed_and_audited(clock, endpoint, receiver, pat, pending_request):
    receiver.answers = [500] * 100
    grant(pat, pending_request)
    event = settle(clock, event_of("consent.granted"))

    assert event.state == WebhookEvent.State.FAILED
    assert event.next_attempt_at is None
    times = list(WebhookDelivery.objects.filter(event=event).order_by("attempt").values_list("created_at", flat=True))
    assert len(times) == event.attempts == len(receiver.received)
    gaps = [(later - earlier).total_seconds() for earlier, later in itertools.pairwise(times)]
    assert gaps[:8] == [30, 60, 120, 240, 480, 960, 1920, 3600]
    assert max(gaps) == 3600
    assert times[-1] == event.created_at + timedelta(hours=72)  # the last try is at the end of the window
    audit = AuditEvent.objects.get(action="webhook.failed")
    assert audit.data["organization"] == event.organization_id
    assert audit.data["event_id"] == event.event_id
    assert audit.data["attempts"] == event.attempts

    clock.shift(timedelta(days=3))
    assert webhooks.events_sweep() == 0


@pytest.mark.django_db
def test_send_again_requeues_a_failed_event_and_delivers_it(clock, operator, endpoint, receiver, pat, pending_request):
    receiver.answers = [500] * 100
    grant(pat, pending_request)
    event = settle(clock, event_of("consent.granted"))
    assert event.state == WebhookEvent.State.FAILED
    clock.shift(timedelta(days=2))
    receiver.answers = []
    sent_before = len(receiver.received)

    resent = webhook_event_resend(actor=operator, organization=pending_request.organization, event_id=event.pk)

    assert resent.pk == event.pk
    event.refresh_from_db()
    assert event.state == WebhookEvent.State.DELIVERED
    assert len(receiver.received) == sent_before + 1
    hit = receiver.received[-1]
    assert hit["valid"] and hit["headers"]["webhook-id"] == event.event_id
    assert int(hit["headers"]["webhook-timestamp"]) == int(timezone.now().timestamp())
    audit = AuditEvent.objects.get(action="webhook_event.resend")
    assert audit.data == {
        "organization": pending_request.organization.pk,
        "event_id": event.event_id,
        "previous_state": "failed",
    }


@pytest.mark.django_db
def test_send_again_of_an_old_event_that_still_fails_gives_up_after_one_try(
    clock, operator, endpoint, receiver, pat, pending_request
):
    grant(pat, pending_request)
    event = event_of("consent.granted")
    clock.shift(timedelta(days=4))
    receiver.answers = [502]

    webhook_event_resend(actor=operator, organization=pending_request.organization, event_id=event.pk)

    event.refresh_from_db()
    assert event.state == WebhookEvent.State.FAILED
    assert WebhookDelivery.objects.filter(event=event).latest("attempt").status_code == 502


@pytest.mark.django_db
def test_send_again_of_a_delivered_event_sends_it_once_more_with_the_same_id(
    operator, endpoint, receiver, pat, pending_request
):
    grant(pat, pending_request)
    event = event_of("consent.granted")

    webhook_event_resend(actor=operator, organization=pending_request.organization, event_id=event.pk)

    assert [hit["headers"]["webhook-id"] for hit in receiver.received] == [event.event_id, event.event_id]
    assert list(WebhookDelivery.objects.filter(event=event).order_by("attempt").values_list("attempt", flat=True)) == [
        1,
        2,
    ]


@pytest.mark.django_db
def test_organisation_without_endpoint_gets_no_endpoint_then_send_again_delivers(
    operator, organization, receiver, pat, pending_request
):
    grant(pat, pending_request)
    event = event_of("consent.granted")
    assert event.state == WebhookEvent.State.NO_ENDPOINT
    assert event.attempts == 0 and event.next_attempt_at is None
    assert not WebhookDelivery.objects.exists()
    assert webhooks.events_sweep() == 0

    _, receiver.secret = local_endpoint_set(actor=operator, organization=organization, url=receiver.url)
    webhook_event_resend(actor=operator, organization=organization, event_id=event.pk)

    event.refresh_from_db()
    assert event.state == WebhookEvent.State.DELIVERED
    assert len(receiver.received) == 1 and receiver.received[0]["valid"]


@pytest.mark.django_db
def test_another_organisation_cannot_resend_my_event(
    other_operator, other_organization, endpoint, receiver, pat, pending_request
):
    grant(pat, pending_request)
    event = event_of("consent.granted")

    with pytest.raises(WebhookEvent.DoesNotExist):
        webhook_event_resend(actor=other_operator, organization=other_organization, event_id=event.pk)

    event.refresh_from_db()
    assert event.state == WebhookEvent.State.DELIVERED
    assert len(receiver.received) == 1
    assert not AuditEvent.objects.filter(action="webhook_event.resend").exists()


# ---- the endpoint ----------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://hooks.example.com/consent", "must start with https://"),
        ("https://user:secret@hooks.example.com/consent", "Remove the user name and password"),
        ("https://token@hooks.example.com/consent", "Remove the user name and password"),
        ("hooks.example.com/consent", "Enter a full URL"),
        ("ftp://hooks.example.com/consent", "Enter a full URL"),
        ("https://127.0.0.1/consent", "public address"),
        ("https://10.1.2.3/consent", "public address"),
        ("https://localhost/consent", "public address"),
        ("https://hooks.example.com/" + "x" * 500, "too long"),
    ],
)
def test_endpoint_url_is_refused_with_a_clear_message(settings, operator, organization, url, message):
    settings.DEBUG = False

    with pytest.raises(InvalidRequest) as caught:
        webhook_endpoint_set(actor=operator, organization=organization, url=url)

    assert caught.value.code == "invalid"
    assert any(message in error for error in caught.value.fields["url"]), caught.value.fields
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.django_db
def test_plain_http_to_a_local_receiver_is_allowed_only_in_development(settings, operator, organization):
    settings.DEBUG = True
    endpoint, _ = webhook_endpoint_set(actor=operator, organization=organization, url="http://127.0.0.1:8001/hook")
    assert endpoint.url == "http://127.0.0.1:8001/hook"


@pytest.mark.django_db
def test_endpoint_secret_is_encrypted_and_only_rotated_when_asked(
    settings, operator, organization, receiver, pat, pending_request
):
    settings.DEBUG = True  # the receiver is plain http on 127.0.0.1
    endpoint, secret = webhook_endpoint_set(actor=operator, organization=organization, url=receiver.url)
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 32
    assert secret not in endpoint.secret_enc
    assert decrypt(endpoint.secret_enc, context="webhook_secret") == secret

    same, unchanged = webhook_endpoint_set(actor=operator, organization=organization, url=receiver.url + "?v=2")
    assert (same.pk, unchanged, same.secret_enc) == (endpoint.pk, "", endpoint.secret_enc)

    rotated_endpoint, rotated = webhook_endpoint_set(
        actor=operator, organization=organization, url=receiver.url, rotate_secret=True
    )
    assert rotated_endpoint.pk == endpoint.pk
    assert rotated.startswith("whsec_") and rotated != secret
    receiver.secret = rotated
    grant(pat, pending_request)
    assert receiver.received[0]["valid"] is True  # signed with the new secret
    assert receiver_verifies(secret, receiver.received[0]["headers"], receiver.received[0]["body"]) is False

    actions = list(AuditEvent.objects.filter(action__startswith="webhook_endpoint.").values_list("action", "data"))
    assert [action for action, _ in actions] == [
        "webhook_endpoint.create",
        "webhook_endpoint.update",
        "webhook_endpoint.update",
    ]
    assert all(data["organization"] == organization.pk for _, data in actions)
    assert [data.get("secret_rotated") for _, data in actions] == [None, False, True]
    assert not any(secret in json.dumps(data) or rotated in json.dumps(data) for _, data in actions)


@pytest.mark.django_db
def test_deleting_the_endpoint_stops_deliveries(operator, organization, endpoint, receiver, pat, pending_request):
    webhook_endpoint_delete(actor=operator, organization=organization)

    assert not WebhookEndpoint.objects.exists()
    assert AuditEvent.objects.get(action="webhook_endpoint.delete").data == {
        "organization": organization.pk,
        "url": receiver.url,
    }
    grant(pat, pending_request)
    assert event_of("consent.granted").state == WebhookEvent.State.NO_ENDPOINT
    assert receiver.received == []


# ---- the outbox ------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_events_survive_a_broker_outage(endpoint, receiver, pat, pending_request):
    """Real commits here: the change commits although queueing fails, and the sweep delivers later."""
    with broker_unreachable():
        consent = grant(pat, pending_request)

        assert Consent.objects.filter(pk=consent.pk, state=Consent.State.ACTIVE).exists()
        event = event_of("consent.granted")
        assert event.state == WebhookEvent.State.PENDING
        assert event.attempts == 0
        assert receiver.received == []

    # The broker is back (tasks run in-process again); beat's next sweep finds the event due. On the real
    # stack, the session's worker may briefly hold the row (skip_locked), so beat's next minute is emulated.
    def swept_and_delivered():
        assert webhooks.events_sweep() <= 1
        event.refresh_from_db()
        return event.state == WebhookEvent.State.DELIVERED

    wait_for(swept_and_delivered, timeout=10, interval=0.5)
    assert len(receiver.received) == 1 and receiver.received[0]["valid"]
    assert receiver.received[0]["json"]["data"]["consent_id"] == consent.pk


@pytest.mark.django_db
def test_an_attempt_claimed_by_one_worker_is_not_sent_by_another(monkeypatch, endpoint, receiver, pat, pending_request):
    from consent.tasks import webhook_deliver_task

    monkeypatch.setattr(webhook_deliver_task, "delay", lambda event_id: None)  # the queued message was lost
    grant(pat, pending_request)
    event = event_of("consent.granted")

    claimed, _ = webhooks._attempt_claim(event.pk)  # worker A has claimed attempt 1 and is sending it

    assert claimed.attempts == 1
    assert webhooks.event_deliver(event_id=event.pk) is None  # worker B: nothing due
    assert webhooks.events_sweep() == 0
    assert receiver.received == []
    assert not WebhookDelivery.objects.exists()


# ---- the real stack --------------------------------------------------------------------------


@pytest.mark.realstack
def test_real_worker_delivers_a_granted_event(celery_worker, endpoint, receiver, pat, pending_request):
    grant(pat, pending_request)
    event = event_of("consent.granted")

    wait_for(lambda: WebhookEvent.objects.filter(pk=event.pk, state=WebhookEvent.State.DELIVERED).exists())

    assert len(receiver.received) == 1
    assert receiver.received[0]["valid"] is True
    assert receiver.received[0]["headers"]["webhook-id"] == event.event_id
    assert WebhookDelivery.objects.get(event=event).status_code == 204


@pytest.mark.realstack
@pytest.mark.django_db(transaction=True)
def test_racing_workers_on_postgresql_send_an_attempt_once(monkeypatch, endpoint, receiver, pat, pending_request):
    from consent.tasks import webhook_deliver_task

    monkeypatch.setattr(webhook_deliver_task, "delay", lambda event_id: None)
    grant(pat, pending_request)
    event = event_of("consent.granted")
    receiver.gate = threading.Event()
    outcome = {}

    def worker_a():
        try:
            outcome["a"] = webhooks.event_deliver(event_id=event.pk)
        finally:
            connection.close()

    thread = threading.Thread(target=worker_a)
    thread.start()
    wait_for(lambda: receiver.received)  # A is inside the HTTP call, no transaction open

    assert webhooks.event_deliver(event_id=event.pk) is None  # B finds the attempt claimed
    assert webhooks.events_sweep() == 0
    receiver.gate.set()
    thread.join(timeout=30)

    assert outcome["a"] == WebhookEvent.State.DELIVERED
    assert len(receiver.received) == 1
    assert WebhookDelivery.objects.filter(event=event).count() == 1
