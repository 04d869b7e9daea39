"""Crashes and outages on the real stack lose nothing and do nothing twice.

Each test runs on its own database of the private cluster (see conftest.py), starts the processes it needs,
breaks one of them, and asserts counts afterwards: created = delivered, duplicates = 0, invariants hold.
Beat is not started: where the periodic sweep would run a minute later, the test runs it itself.
"""

import json
import re
import signal
import sys
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from tests.faults.fakes import Receiver
from tests.faults.stack import http, wait_until

pytestmark = pytest.mark.faults

SWEEP = "from consent.tasks import consent_sweep_task\nprint(json.dumps(consent_sweep_task()))"
# Beat's sweep as it runs a few minutes after an outage (it leaves fresh work to the normal queueing).
SWEEP_LATER = (
    "from datetime import timedelta\nfrom django.utils import timezone\nfrom consent import services, webhooks\n"
    "later = timezone.now() + timedelta(minutes=6)\n"
    "print(json.dumps([webhooks.events_sweep(now=later), services.notifications_sweep(now=later),"
    " services.artifacts_sweep(now=later)]))"
)
INVARIANTS = "from tests.faults.scenarios import invariants\nprint(json.dumps(invariants()))"


def seed(stack, db, **kwargs):
    args = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
    return stack.django(db, f"from tests.faults.scenarios import seed\nprint(json.dumps(seed({args})))")


@pytest.fixture
def receiver():
    made = []

    def make(**kwargs):
        made.append(Receiver(**kwargs))
        return made[-1]

    yield make
    for r in made:
        r.close()


def events(stack, db):
    return stack.sql(db, "SELECT event_id, state FROM consent_webhookevent ORDER BY id")


def acknowledged_deliveries(stack, db):
    return dict(
        stack.sql(
            db,
            "SELECT e.event_id, count(d.id) FROM consent_webhookevent e LEFT JOIN consent_webhookdelivery d "
            "ON d.event_id = e.id AND d.status_code BETWEEN 200 AND 299 GROUP BY e.event_id",
        )
    )


def test_a_worker_killed_mid_webhook_delivery_delivers_each_event_once_acknowledged(stack, db_name, receiver):
    hook = receiver(hold_first=True)
    seed(stack, db_name, consents=3, revoke=1, webhook_url=hook.url)
    created = [event_id for event_id, _state in events(stack, db_name)]
    assert len(created) == 4  # three grants and one withdrawal

    worker = stack.worker(db_name, "w1")
    assert hook.first_arrived.wait(120), stack.log(f"worker-{db_name}-w1.log")[-3000:]
    stack.kill(worker)  # kill -9 of the worker and its pool while the receiver holds the first delivery
    hook.release.set()
    interrupted = hook.received[0]
    assert stack.sql(db_name, "SELECT state FROM consent_webhookevent WHERE event_id = %s", [interrupted]) == [
        ("pending",)
    ]

    stack.worker(db_name, "w2")
    # The claimed attempt's lease (30 s) would expire; a minute later beat's sweep queues it again.
    stack.sql(db_name, "UPDATE consent_webhookevent SET next_attempt_at = now() WHERE state = 'pending'")
    stack.django(db_name, SWEEP)
    wait_until(lambda: all(state == "delivered" for _e, state in events(stack, db_name)), 120, what="all delivered")

    assert set(hook.received) == set(created)  # created = delivered
    assert acknowledged_deliveries(stack, db_name) == dict.fromkeys(created, 1)  # acknowledged once each
    assert hook.received.count(interrupted) == 2  # at least once: the receiver dedupes by webhook-id
    assert len(hook.received) == len(created) + 1
    before = len(hook.received)
    stack.django(db_name, SWEEP)  # a later sweep finds nothing due: an acknowledged event is never sent again
    time.sleep(2)
    assert len(hook.received) == before
    # The PDF records queued alongside: one per consent and kind, whatever the kill interrupted.
    stack.django(db_name, SWEEP)
    wait_until(lambda: stack.sql(db_name, "SELECT count(*) FROM consent_artifact") == [(4,)], 180, what="records")
    assert (
        stack.sql(db_name, "SELECT count(*) FROM consent_artifact GROUP BY consent_id, kind HAVING count(*) > 1") == []
    )


def test_requests_made_while_redis_is_down_commit_and_their_sms_go_out_once_it_is_back(stack, db_name):
    seeded = seed(stack, db_name, consents=2, revoke=0)
    key = seeded["api_key"]
    worker = stack.worker(db_name, "w1")
    base = stack.web(db_name, workers=2)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    wait_until(lambda: stack.sql(db_name, "SELECT count(*) FROM consent_notification WHERE state = 'queued'") == [(0,)],
               120, what="the seed's notifications sent")  # fmt: skip
    sms_before = stack.sql(db_name, "SELECT count(*) FROM identity_outboxmessage WHERE channel = 'sms'")[0][0]

    stack.redis_stop()
    try:
        status, body = http(base + "/readyz")
        assert status == 503 and json.loads(body)["failing"] == ["broker"]
        created = []
        for n in range(3):
            payload = api_body(phone=f"+8613700000{n:03d}")
            status, body = http(base + "/api/v1/requests", json.dumps(payload).encode(),
                                headers | {"Idempotency-Key": f"down-{n}"}, timeout=30)  # fmt: skip
            assert status == 201, body
            created.append(json.loads(body)["id"])
        status, body = http(base + f"/api/v1/requests/{created[0]}/cancel", b"{}", headers, method="POST", timeout=30)
        assert status == 200, body
        # The operator sees the new state at once; the person's withdrawal (through the service) commits too.
        assert json.loads(http(base + f"/api/v1/requests/{created[0]}", headers=headers)[1])["state"] == "cancelled"
        assert json.loads(http(base + f"/api/v1/requests/{created[1]}", headers=headers)[1])["state"] == "pending"
        revoked = seeded["consents"][0]
        stack.django(
            db_name,
            "from consent.models import Consent\nfrom consent import services\n"
            f"c = Consent.objects.get(pk={revoked['id']})\n"
            "services.consent_revoke(person=c.person, consent_id=c.pk, reason='redis down')\nprint(1)",
        )
        verify = {"token": revoked["token"], "modality": "face", "operation": "face_swap"}
        status, body = http(base + "/api/v1/tokens/verify", json.dumps(verify).encode(), headers)
        assert status == 200 and json.loads(body)["active"] is False
        assert (
            stack.sql(db_name, "SELECT count(*) FROM identity_outboxmessage WHERE channel = 'sms'")[0][0] == sms_before
        )
    finally:
        stack.redis_start()

    # Back. The worker reconnects by itself but may not consume again (Celery/Kombu with Redis:
    # celery/celery#8091, #10205), so it is restarted, as README's operations section says to do after a
    # broker restart. Then beat's sweep (run here) queues what was left in the outbox.
    stack.kill(worker, signal.SIGTERM)
    worker = stack.worker(db_name, "w2")
    swept = stack.django(db_name, SWEEP_LATER)
    assert swept[1] == 3 and swept[2] == 1  # three notifications and the withdrawal record were waiting
    expected = sms_before + 2  # the request cancelled before its SMS could go out gets none ("request closed")
    try:
        wait_until(
            lambda: (
                stack.sql(db_name, "SELECT count(*) FROM identity_outboxmessage WHERE channel = 'sms'")[0][0]
                >= expected
            ),
            120,
            what="SMS drained",
        )
    except AssertionError as exc:
        raise AssertionError(stack.log(f"worker-{db_name}-w2.log")[-5000:]) from exc
    stack.django(db_name, SWEEP_LATER)  # a second sweep sends nothing twice
    time.sleep(3)
    per_request = stack.sql(
        db_name,
        "SELECT n.request_id, count(a.id) FROM consent_notification n JOIN consent_notificationattempt a "
        "ON a.notification_id = n.id AND a.channel = 'sms' AND a.ok WHERE n.request_id = ANY(%s) GROUP BY n.request_id",
        [created],
    )
    assert dict(per_request) == dict.fromkeys(created[1:], 1)
    assert stack.sql(db_name, "SELECT count(*) FROM identity_outboxmessage WHERE channel = 'sms'")[0][0] == expected
    wait_until(
        lambda: stack.sql(db_name, "SELECT count(*) FROM consent_artifact WHERE kind = 'revocation'") == [(1,)],
        120,
        what="withdrawal record",
    )
    assert worker.poll() is None


def api_body(phone: str) -> dict:
    import base64

    from consent.demo_media import demo_png

    return {
        "phone": phone,
        "end_user_reference": "u-1",
        "end_user_verification_method": "mobile",
        "end_user_verification_reference": "chk-1",
        "end_user_verified_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
        "end_user_prompted_to_notify": True,
        "retention_days": 30,
        "notice_withdrawal": "In the portal, any time",
        "items": [
            {
                "modality": "face",
                "operations": ["face_swap"],
                "purpose": "Trailer",
                "usage": "Online",
                "valid_until": (datetime.now(UTC) + timedelta(days=90)).date().isoformat(),
                "samples": [{"name": "face.png", "content_base64": base64.b64encode(demo_png()).decode()}],
            }
        ],
    }


def test_a_postgresql_restart_under_load_gives_clean_503s_and_no_half_written_consent(stack, db_name):
    seeded = seed(stack, db_name, consents=2, revoke=1)
    stack.worker(db_name, "w1")
    base = stack.web(db_name, workers=2)
    headers = {"Authorization": f"Bearer {seeded['api_key']}", "Content-Type": "application/json"}
    active = seeded["consents"][1]
    verify = json.dumps({"token": active["token"], "modality": "face", "operation": "face_swap"}).encode()
    answers: list[tuple[str, int, str]] = []
    stop = threading.Event()

    def load():
        while not stop.is_set():
            answers.append(("verify", *http(base + "/api/v1/tokens/verify", verify, headers, timeout=20)))
            answers.append(("readyz", *http(base + "/readyz", timeout=20)))
            answers.append(("page", *http(base + "/r/no-such-link/", timeout=20)))  # 404, read from the database

    threads = [threading.Thread(target=load) for _ in range(2)]
    grants = stack.spawn(
        [
            sys.executable,
            "-c",
            "import django, json; django.setup()\nfrom tests.faults.scenarios import grant_loop\n"
            f"print(json.dumps(grant_loop(rounds=12, phone_base=13900000000, organization_id={seeded['organization']},"
            f" operator_id={seeded['operator']})))",
        ],
        db_name,
        "grants.log",
        env=stack.env(db_name, DJANGO_SETTINGS_MODULE="config.settings"),
    )
    for thread in threads:
        thread.start()
    # Stop the database once the grant loop is under way, so that the outage cuts into its transactions.
    wait_until(lambda: stack.sql(db_name, "SELECT count(*) FROM consent_consent")[0][0] >= 3, 120, what="grants")
    stack.pg_stop()
    down_from = len(answers)
    time.sleep(4)
    stack.pg_start()
    up_from = len(answers)
    wait_until(lambda: any(kind == "verify" and status == 200 for kind, status, _b in answers[up_from:]), 60,
               what="verify answers again without a restart")  # fmt: skip
    stop.set()
    for thread in threads:
        thread.join(30)
    assert grants.wait(300) == 0, stack.log("grants.log")[-3000:]

    outage = answers[down_from:up_from]
    assert any(status == 503 for _k, status, _b in outage), "the outage was not seen"
    assert {status for _k, status, _b in answers} <= {200, 404, 503}, {s for _k, s, _b in answers}
    for kind, status, body in answers:
        assert "Traceback" not in body
        if kind != "readyz":  # /readyz names the failing check's error for the operator, by design
            assert "OperationalError" not in body
        if status == 503 and kind == "verify":
            assert json.loads(body)["code"] == "service_unavailable"
        if status == 503 and kind == "readyz":
            assert "database" in json.loads(body)["failing"]
        if status == 503 and kind == "page":
            assert "Briefly unavailable" in body or "暂时无法使用" in body
    counts = json.loads(stack.log("grants.log").strip().splitlines()[-1])
    assert counts["done"] + counts["failed"] == 12 and counts["done"] >= 1, counts
    checked = stack.django(db_name, INVARIANTS)
    assert checked["problems"] == []  # one token and one status slot per active consent, revoked bits set
    # Every grant that returned is there; a grant cut off by the restart either committed whole or not at all.
    assert 2 + counts["granted"] <= checked["consents"] <= 2 + counts["granted"] + counts["failed"]


def test_a_worker_killed_mid_pdf_render_leaves_exactly_one_record_per_consent_and_kind(stack, db_name):
    # Two grants and one withdrawal queue three render+sign tasks before any worker runs.
    seeded = seed(stack, db_name, consents=2, revoke=1)
    log = f"worker-{db_name}-w1.log"
    worker = stack.worker(db_name, "w1")
    started = wait_until(lambda: re.search(r"artifact_render_task\[([0-9a-f-]+)\] received", stack.log(log)), 120,
                         interval=0.02, what="a render task started")  # fmt: skip
    stack.kill(worker)  # kill -9 of the worker and its pool while it renders and signs that record
    assert f"{started[1]}] succeeded" not in stack.log(log), "the kill came too late: it interrupted nothing"
    assert stack.sql(db_name, "SELECT count(*) FROM consent_artifact")[0][0] < 3

    stack.worker(db_name, "w2")
    stack.django(db_name, SWEEP_LATER)  # beat's sweep queues what is still missing, alongside the queued tasks
    wait_until(lambda: stack.sql(db_name, "SELECT count(*) FROM consent_artifact") == [(3,)], 180, what="records")
    stack.django(db_name, SWEEP_LATER)  # a second sweep finds nothing missing and renders nothing twice
    time.sleep(2)
    per_kind = stack.sql(db_name, "SELECT consent_id, kind, count(*) FROM consent_artifact GROUP BY consent_id, kind")
    withdrawn = seeded["consents"][0]["id"]
    expected = {(c["id"], "grant", 1) for c in seeded["consents"]} | {(withdrawn, "revocation", 1)}
    assert set(per_kind) == expected
    created = stack.sql(db_name, "SELECT count(*) FROM audit_auditevent WHERE action = 'artifact.create'")
    assert created == [(3,)]  # one audit event per stored record: no half-stored, no second one
