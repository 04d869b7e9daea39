"""The documented scale-out: two web processes and two workers on one database, broker and cache.

People grant and withdraw through the portal over HTTP, each step on whichever web process comes next, while
a service verifies tokens and fetches the status list from both. Afterwards the status list, the tokens, the
audit log and the webhook outbox agree, and nothing was lost or done twice.
"""

import base64
import json
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib
from http.cookiejar import CookieJar

import pytest

from tests.faults.fakes import Receiver
from tests.faults.scenarios import id_number
from tests.faults.stack import http, wait_until
from tests.faults.test_faults import api_body

pytestmark = pytest.mark.faults

PEOPLE = 6
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a 302 is an answer to check, not a page to fetch


class Visitor:
    """One person's browser: a cookie jar shared by both web processes (same host, another port)."""

    def __init__(self):
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()), NoRedirect)

    def request(self, url: str, data: dict | None = None) -> tuple[int, str]:
        body = urllib.parse.urlencode(data, doseq=True).encode() if data is not None else None
        try:
            with self.opener.open(url, body, timeout=60) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def submit(self, page_url: str, data: dict, action: str | None = None) -> int:
        """GET the form page (for its CSRF token), then POST the form; returns the POST's status."""
        status, html = self.request(page_url)
        assert status == 200, (page_url, status, html[:500])
        token = CSRF.search(html)
        assert token, f"no form on {page_url}"
        status, html = self.request(action or page_url, {**data, "csrfmiddlewaretoken": token[1]})
        assert status == 302, (action or page_url, status, html[:1500])
        return status


def masked(phone: str) -> str:
    return phone[:-8] + "****" + phone[-4:]


def test_two_web_processes_and_two_workers_keep_status_list_tokens_and_audit_log_consistent(stack, db_name):
    hook = Receiver()
    env = stack.env(
        db_name,
        CACHE_URL=f"rediscache://127.0.0.1:{stack.redis_port}/1",  # shared, as production requires
        SMS_SEND_COOLDOWN_SECONDS=0,
        SMS_SEND_LIMIT_PER_IP_HOUR=100000,
        IDENTITY_CHECK_LIMIT_PER_IP_DAY=100000,
    )
    try:
        seeded = stack.django(
            db_name,
            "from tests.faults.scenarios import seed\n"
            f"print(json.dumps(seed(consents=2, revoke=0, webhook_url={hook.url!r}, phone_base=13300000000)))",
            env=env,
        )
        stack.worker(db_name, "w1", env=env)
        stack.worker(db_name, "w2", env=env)
        webs = [stack.web(db_name, workers=1, env=env), stack.web(db_name, workers=1, env=env)]
        api = {"Authorization": f"Bearer {seeded['api_key']}", "Content-Type": "application/json"}
        outcomes, failures = {}, []
        done = threading.Event()

        def sms_code(phone: str, after: int) -> tuple[int, str]:
            query = (
                "SELECT id, body FROM identity_outboxmessage WHERE channel = 'sms' AND \"to\" = %s AND id > %s "
                "AND body NOT LIKE '%%/r/%%' ORDER BY id DESC LIMIT 1"
            )
            row = wait_until(lambda: stack.sql(db_name, query, [masked(phone), after]), 120, 0.1, what="an SMS code")
            return row[0][0], re.search(r"\b(\d{6})\b", row[0][1])[1]

        def person(n: int):
            here, there = webs[n % 2], webs[(n + 1) % 2]
            phone = f"+861351234{n:04d}"
            body = json.dumps(api_body(phone=phone)).encode()
            status, answer = http(here + "/api/v1/requests", body, api | {"Idempotency-Key": f"scale-{n}"}, timeout=60)
            assert status == 201, answer
            request_id = json.loads(answer)["id"]
            [(code,)] = stack.sql(db_name, "SELECT code FROM consent_consentrequest WHERE id = %s", [request_id])
            [(item,)] = stack.sql(db_name, "SELECT id FROM consent_requestitem WHERE request_id = %s", [request_id])
            browser = Visitor()
            browser.submit(there + "/signin/", {"phone": phone})
            seen, signin_code = sms_code(phone, 0)
            browser.submit(here + "/signin/code/", {"code": signin_code})
            browser.submit(there + "/identity/", {"legal_name": "张三", "id_number": id_number(700 + n)})
            page = f"/r/{code}/"
            browser.submit(here + page, {}, action=there + f"{page}items/{item}/code/")
            _seen, grant_code = sms_code(phone, seen)
            browser.submit(here + f"{page}items/{item}/grant/", {"code": grant_code})
            [(consent,)] = stack.sql(db_name, "SELECT id FROM consent_consent WHERE item_id = %s", [item])
            if n % 2 == 0:  # withdrawn on one web process or the other, the form read from the second
                revoke = f"/me/consents/{consent}/revoke/"
                on, off = webs[(n // 2) % 2], webs[(n // 2 + 1) % 2]
                browser.submit(off + revoke, {"reason": "scale-out", "confirm": "on"}, action=on + revoke)
            outcomes[n] = {"consent": consent, "revoked": n % 2 == 0}

        def guarded(n: int):
            try:
                person(n)
            except BaseException as exc:  # the assertion is re-raised in the test's thread below
                failures.append((n, repr(exc)))

        seen_answers: list[tuple[int, bool | None]] = []

        def service():
            verify = [
                json.dumps({"token": c["token"], "modality": "face", "operation": "face_swap"}).encode()
                for c in seeded["consents"]
            ]
            while not done.is_set():
                for base in webs:
                    for body in verify:
                        status, answer = http(base + "/api/v1/tokens/verify", body, api, timeout=60)
                        seen_answers.append((status, json.loads(answer).get("active") if status == 200 else None))
                    status, _ = http(base + "/api/v1/status-lists/1", timeout=60)
                    seen_answers.append((status, None))

        threads = [threading.Thread(target=guarded, args=(n,)) for n in range(PEOPLE)]
        checker = threading.Thread(target=service)
        checker.start()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(600)
        done.set()
        checker.join(120)
        assert failures == [], failures
        assert len(outcomes) == PEOPLE
        assert seen_answers and all(answer == (200, True) or answer == (200, None) for answer in seen_answers)

        consents = {c["id"]: False for c in seeded["consents"]} | {
            o["consent"]: o["revoked"] for o in outcomes.values()
        }
        revoked = {c for c, gone in consents.items() if gone}
        # Tokens and status list: one token and one slot per consent, every withdrawn consent's bit set, read
        # back through both web processes and the published list itself.
        checked = stack.django(
            db_name, "from tests.faults.scenarios import invariants\nprint(json.dumps(invariants()))"
        )
        assert checked["problems"] == []
        assert (checked["consents"], checked["revoked"]) == (len(consents), len(revoked))
        slots = dict(
            (row[0], (row[1], row[2]))
            for row in stack.sql(
                db_name,
                "SELECT t.consent_id, t.status_index, l.number FROM consent_consenttoken t "
                "JOIN consent_statuslist l ON l.id = t.status_list_id",
            )
        )
        assert set(slots) == set(consents)
        for base in webs:
            for number in {number for _index, number in slots.values()}:
                status, jwt = http(f"{base}/api/v1/status-lists/{number}")
                assert status == 200
                claims = json.loads(base64.urlsafe_b64decode(jwt.split(".")[1] + "=="))
                bits = zlib.decompress(base64.urlsafe_b64decode(claims["status_list"]["lst"] + "=="))
                for consent, (index, listed) in slots.items():
                    if listed == number:
                        assert (bits[index // 8] >> (index % 8)) & 1 == (consent in revoked), consent
            tokens = dict(stack.sql(db_name, "SELECT consent_id, value FROM consent_consenttoken"))
            for consent, token in tokens.items():
                body = json.dumps({"token": token, "modality": "face", "operation": "face_swap"}).encode()
                status, answer = http(base + "/api/v1/tokens/verify", body, api, timeout=60)
                assert status == 200 and json.loads(answer)["active"] is (consent not in revoked), (consent, answer)

        # The audit log: intact, and one grant and one withdrawal event per consent that had them.
        stack.manage(db_name, "audit_verify", env=env)
        per_action = stack.sql(
            db_name,
            "SELECT action, target_id, count(*) FROM audit_auditevent WHERE action IN ('consent.grant', "
            "'consent.revoke') GROUP BY action, target_id",
        )
        assert {(a, int(t)) for a, t, _n in per_action} == {("consent.grant", c) for c in consents} | {
            ("consent.revoke", c) for c in revoked
        }
        assert {n for _a, _t, n in per_action} == {1}

        # The webhook outbox: one event per grant and withdrawal, each delivered and acknowledged once.
        events = stack.sql(
            db_name,
            "SELECT type, (payload->'data'->>'consent_id')::int, event_id FROM consent_webhookevent "
            "WHERE type IN ('consent.granted', 'consent.revoked')",
        )
        assert sorted((t, c) for t, c, _e in events) == sorted(
            [("consent.granted", c) for c in consents] + [("consent.revoked", c) for c in revoked]
        )
        undelivered = "SELECT count(*) FROM consent_webhookevent WHERE state <> 'delivered'"
        wait_until(lambda: stack.sql(db_name, undelivered) == [(0,)], 120, what="every event delivered")
        time.sleep(1)
        assert sorted(hook.acknowledged) == sorted(e for _t, _c, e in events)
    finally:
        hook.close()
