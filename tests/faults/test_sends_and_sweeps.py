"""A worker killed mid SMS send or mid expiry sweep, and a webhook receiver down for a simulated day.

Same private stack as test_faults.py. Seeds that must not feed the worker (grant records, first webhook
attempts) run with their tasks sent to a queue nobody consumes, so that the worker under test does only the
work the test gives it; what a seed left pending is then picked up by the same sweeps beat runs.
"""

import itertools
import time

import psycopg
import pytest

from consent.webhooks import retry_delay
from tests.faults.fakes import Receiver, SmsGateway
from tests.faults.stack import wait_until

pytestmark = pytest.mark.faults

NOWHERE = "q-nobody-consumes"


def snippet(stack, db, code: str, **env):
    return stack.django(db, code, env=stack.env(db, **env) if env else None)


def seed_quietly(stack, db, **kwargs):
    args = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
    code = f"from tests.faults.scenarios import seed\nprint(json.dumps(seed({args})))"
    return snippet(stack, db, code, CELERY_TASK_DEFAULT_QUEUE=NOWHERE)


def count(stack, db, query: str, params=()) -> int:
    return stack.sql(db, query, params)[0][0]


@pytest.fixture
def gateway():
    made = SmsGateway(hold_first=True)
    yield made
    made.close()


@pytest.fixture
def hook():
    made = Receiver()
    yield made
    made.close()


def test_a_worker_killed_mid_sms_send_texts_each_notification_once_and_records_it_once(stack, db_name, gateway):
    seeded = seed_quietly(stack, db_name, consents=0, revoke=0)
    requests = snippet(
        stack,
        db_name,
        "from consent.builders import build_request, face_item\nfrom consent.models import Organization\n"
        "from identity.models import User\n"
        f"org = Organization.objects.get(pk={seeded['organization']}); op = User.objects.get(pk={seeded['operator']})\n"
        "made = [build_request(actor=op, organization=org, phone=f'+861370000{n:04d}', items=[face_item()]).pk"
        " for n in range(3)]\nprint(json.dumps(made))",
    )
    notifications = [row[0] for row in stack.sql(db_name, "SELECT id FROM consent_notification ORDER BY id")]
    assert len(notifications) == 3

    env = stack.env(db_name, **gateway.settings())
    worker = stack.worker(db_name, "w1", env=env)
    assert gateway.first_arrived.wait(120), stack.log(f"worker-{db_name}-w1.log")[-3000:]
    stack.kill(worker)  # kill -9 while the gateway holds the answer: the message went out, the worker never knew
    gateway.release.set()
    [interrupted] = gateway.requests
    assert count(stack, db_name, "SELECT count(*) FROM consent_notification WHERE state = 'sent'") == 0

    stack.worker(db_name, "w2", env=env)
    # The killed task stays unacknowledged in Redis; beat's sweep, minutes later, queues what is still queued.
    sweep_later = (
        "from datetime import timedelta\nfrom django.utils import timezone\nfrom consent import services\n"
        "print(json.dumps(services.notifications_sweep(now=timezone.now() + timedelta(minutes=6))))"
    )
    snippet(stack, db_name, sweep_later, **gateway.settings())
    wait_until(lambda: count(stack, db_name, "SELECT count(*) FROM consent_notification WHERE state = 'sent'") == 3,
               120, what="all notifications sent")  # fmt: skip
    assert snippet(stack, db_name, sweep_later, **gateway.settings()) == 0  # nothing left to send
    time.sleep(1)

    assert len(gateway.texted) == 3  # exactly one SMS per notification reached a phone
    assert len({message["to"] for message in gateway.texted}) == 3
    keys = [message.get("idempotency_key") for message in gateway.requests]
    assert sorted(set(keys)) == sorted(f"consent-notification-{n}" for n in notifications)
    assert keys.count(interrupted["idempotency_key"]) == 2  # at least once to the gateway: the retry carries the key
    assert gateway.bad_signatures == 0
    # Exactly once in our records: one successful attempt, one audit event per notification, and the retry
    # recorded the gateway's id of the message that went out before the kill.
    ok = stack.sql(
        db_name,
        "SELECT notification_id, count(*), min(reference) FROM consent_notificationattempt "
        "WHERE channel = 'sms' AND ok GROUP BY notification_id",
    )
    assert {row[0]: row[1] for row in ok} == dict.fromkeys(notifications, 1)
    interrupted_id = int(interrupted["idempotency_key"].rsplit("-", 1)[1])
    assert {row[0]: row[2] for row in ok}[interrupted_id] == "sms-1"
    notified = stack.sql(
        db_name, "SELECT count(*), count(DISTINCT target_id) FROM audit_auditevent WHERE action = 'request.notified'"
    )
    assert notified == [(3, 3)]
    assert sorted(requests) == sorted(
        row[0] for row in stack.sql(db_name, "SELECT request_id FROM consent_notification WHERE state = 'sent'")
    )


def test_a_worker_killed_mid_expiry_sweep_expires_each_consent_and_request_once(stack, db_name, hook):
    seeded = seed_quietly(stack, db_name, consents=6, revoke=0, webhook_url=hook.url)
    snippet(
        stack,
        db_name,
        "from consent.builders import build_request, face_item\nfrom consent.models import Organization\n"
        "from identity.models import User\n"
        f"org = Organization.objects.get(pk={seeded['organization']}); op = User.objects.get(pk={seeded['operator']})\n"
        "print(json.dumps([build_request(actor=op, organization=org, phone=f'+861360000{n:04d}',"
        " items=[face_item()]).pk for n in range(3)]))",
        CELERY_TASK_DEFAULT_QUEUE=NOWHERE,
    )
    consents = [c["id"] for c in seeded["consents"]]
    held = sorted(consents)[3]  # the sweep goes in id order: three expire, then it waits on this one's lock
    later = "(timezone.now() + timedelta(days=400)).isoformat()"
    queue_sweep = (
        "from datetime import timedelta\nfrom django.utils import timezone\n"
        f"from consent.tasks import consent_expire_task\nconsent_expire_task.delay({later})\nprint(1)"
    )

    with psycopg.connect(stack.url(db_name).replace("postgres://", "postgresql://")) as lock:
        lock.execute("SELECT id FROM consent_consent WHERE id = %s FOR UPDATE", [held])
        worker = stack.worker(db_name, "w1")
        snippet(stack, db_name, queue_sweep)
        wait_until(lambda: count(stack, db_name, "SELECT count(*) FROM consent_consent WHERE state = 'expired'") == 3,
                   120, interval=0.05, what="the sweep half-way")  # fmt: skip
        waiting = "SELECT count(*) FROM pg_locks WHERE NOT granted AND locktype = 'transactionid'"
        wait_until(lambda: count(stack, db_name, waiting) >= 1, 30, what="the sweep waiting on the held consent")
        stack.kill(worker)  # kill -9 mid sweep, with the fourth consent's transaction open
        lock.rollback()

    # Nothing half-done: three consents expired whole (state, audit event, outbox event), the rest untouched.
    assert count(stack, db_name, "SELECT count(*) FROM consent_consent WHERE state = 'expired'") == 3
    assert count(stack, db_name, "SELECT count(*) FROM audit_auditevent WHERE action = 'consent.expire'") == 3
    assert count(stack, db_name, "SELECT count(*) FROM consent_webhookevent WHERE type = 'consent.expired'") == 3
    assert count(stack, db_name, "SELECT count(*) FROM consent_notification WHERE reason = 'expired'") == 3

    stack.worker(db_name, "w2")
    snippet(stack, db_name, queue_sweep)  # beat runs the sweep again five minutes later
    expired_requests = "SELECT count(*) FROM consent_consentrequest WHERE state = 'expired'"
    wait_until(lambda: count(stack, db_name, expired_requests) == 3, 120, what="the sweep finished")
    snippet(stack, db_name, queue_sweep)  # and again: it finds nothing left to do
    # The grants' events were never queued (the seed's queue has no consumer): beat's webhook sweep sends them,
    # and each consent's expiry event follows its grant event.
    snippet(stack, db_name, "from consent import webhooks\nprint(webhooks.events_sweep())")
    undelivered = "SELECT count(*) FROM consent_webhookevent WHERE state <> 'delivered'"
    wait_until(lambda: count(stack, db_name, undelivered) == 0, 120, what="every event delivered")
    time.sleep(1)

    expired = stack.sql(
        db_name, "SELECT target_id, count(*) FROM audit_auditevent WHERE action = 'consent.expire' GROUP BY target_id"
    )
    assert dict(expired) == {str(c): 1 for c in consents}
    assert count(stack, db_name, "SELECT count(*) FROM audit_auditevent WHERE action = 'request.expire'") == 3
    per_consent = stack.sql(
        db_name,
        "SELECT payload->'data'->>'consent_id', count(*) FROM consent_webhookevent WHERE type = 'consent.expired' "
        "GROUP BY 1",
    )
    assert dict(per_consent) == {str(c): 1 for c in consents}
    assert count(stack, db_name, "SELECT count(*) FROM consent_webhookevent WHERE type = 'request.expired'") == 3
    events = [row[0] for row in stack.sql(db_name, "SELECT event_id FROM consent_webhookevent ORDER BY id")]
    assert sorted(hook.acknowledged) == sorted(events)  # created = delivered, each acknowledged once
    order = stack.sql(
        db_name,
        "SELECT payload->'data'->>'consent_id', event_id FROM consent_webhookevent "
        "WHERE payload->'data' ? 'consent_id' ORDER BY id",
    )
    for consent in consents:
        mine = [event_id for consent_id, event_id in order if consent_id == str(consent)]
        assert [e for e in hook.acknowledged if e in mine] == mine  # granted, then expired
    # The person of each consent is told once: one notice per consent, sent (the cut-off's three were queued
    # with their expiries and sent after the restart, by the worker or beat's sweep).
    notices = "SELECT consent_id, count(*) FROM consent_notification WHERE reason = 'expired' GROUP BY 1"
    assert dict(stack.sql(db_name, notices)) == dict.fromkeys(consents, 1)
    snippet(
        stack,
        db_name,
        "from datetime import timedelta\nfrom django.utils import timezone\nfrom consent import services\n"
        "print(json.dumps(services.notifications_sweep(now=timezone.now() + timedelta(minutes=6))))",
    )
    sent = "SELECT count(*) FROM consent_notification WHERE reason = 'expired' AND state = 'sent'"
    wait_until(lambda: count(stack, db_name, sent) == 6, 120, what="every expiry notice sent")
    checked = stack.django(db_name, "from tests.faults.scenarios import invariants\nprint(json.dumps(invariants()))")
    assert checked["problems"] == []  # every expired consent's status bit is set
    assert (checked["consents"], checked["active"]) == (6, 0)


def test_a_receiver_down_for_a_day_gets_every_event_afterwards_in_order_once_acknowledged(stack, db_name, hook):
    hour = 3600
    broker = f"redis://127.0.0.1:{stack.redis_port}/3"  # a broker database of its own: the driver watches it idle
    seeded = seed_quietly(stack, db_name, consents=3, revoke=0, webhook_url=hook.url)
    stack.worker(db_name, "w1", concurrency=2, env=stack.env(db_name, CELERY_BROKER_URL=broker))
    first, second = seeded["consents"][0]["id"], seeded["consents"][1]["id"]
    # The first withdrawal is timed so that, left to its own back-off, it would reach the receiver 100 s
    # before its grant event does once the receiver is back; the second comes just before the end.
    revokes = {first: 5 * hour - 100, second: 23 * hour}
    modes = {0: "503", 12 * hour: "reset", 24 * hour: "up"}
    day = stack.django(
        db_name,
        "from tests.faults.scenarios import webhook_outage_day\n"
        f"print(json.dumps(webhook_outage_day(control_url={hook.control_url!r}, queue='q-{db_name}', "
        f"revokes={revokes!r}, modes={modes!r}, until={3 * 24 * hour})))",
        env=stack.env(db_name, CELERY_BROKER_URL=broker),
        timeout=600,
    )

    events = stack.sql(
        db_name, "SELECT event_id, type, payload->'data'->>'consent_id', state FROM consent_webhookevent ORDER BY id"
    )

    assert len(events) == 5  # three grants, two withdrawals
    assert {state for *_rest, state in events} == {"delivered"}
    ids = [event_id for event_id, *_rest in events]
    # Each event id acknowledged exactly once, and never sent again after its acknowledgement.
    assert sorted(hook.acknowledged) == sorted(ids)
    for event_id in ids:
        last_sent = max(i for i, e in enumerate(hook.received) if e == event_id)
        assert hook.received[last_sent] == event_id and hook.received.count(event_id) == len(day["attempts"][event_id])
    acknowledged = dict(
        stack.sql(
            db_name,
            "SELECT e.event_id, count(d.id) FROM consent_webhookevent e JOIN consent_webhookdelivery d "
            "ON d.event_id = e.id AND d.status_code BETWEEN 200 AND 299 GROUP BY e.event_id",
        )
    )
    assert acknowledged == dict.fromkeys(ids, 1)
    # In order per consent: the grant's acknowledgement before the withdrawal's.
    for consent in (first, second):
        mine = [event_id for event_id, _type, consent_id, _s in events if consent_id == str(consent)]
        assert [e for e in hook.acknowledged if e in mine] == mine
    # Retries back off as documented: 30 s doubling to an hour between attempts, until the receiver is back.
    for event_id, event_type, _consent, _state in events:
        times = day["attempts"][event_id]
        gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
        if event_type == "consent.granted":
            assert times[0] == 0 and times[-1] >= 24 * hour, (event_id, times)
            assert gaps == [retry_delay(n).total_seconds() for n in range(1, len(times))], (event_id, gaps)
        else:  # held back while its grant event was pending, then sent right after it
            assert len(times) == 1 and times[0] >= 24 * hour, (event_id, times)
    # A day later beat's sweep finds nothing due: an acknowledged event is never sent again.
    sent = len(hook.received)
    later = "from datetime import timedelta\nfrom django.utils import timezone\nfrom consent import webhooks\n"
    later += "print(webhooks.events_sweep(now=timezone.now() + timedelta(days=4)))"
    assert stack.django(db_name, later, env=stack.env(db_name, CELERY_BROKER_URL=broker)) == 0
    time.sleep(1)
    assert len(hook.received) == sent
