"""The HTTP real-name and SMS adapters, against a real local HTTP server (tests/identity/fake_gateway.py)."""

import json
import time

import pytest
from django.core.exceptions import ImproperlyConfigured

from identity.gateway import GatewayRejected, GatewayUnavailable
from identity.realname import ChecksumOnlyVerifier, Outcome, realname_verifier, realname_verify
from identity.sms import sms_send
from tests.identity.conftest import APP_ID
from tests.identity.fake_gateway import closed_port_url

ZHANG_SAN = {"name": "张三", "id_number": "11010519491231002X", "phone": "+8613800138000"}


@pytest.fixture
def development(settings):
    """REALNAME_BACKEND left unset: the development verifier is the default."""
    del settings.REALNAME_BACKEND


def test_requests_carry_a_signature_the_gateway_verifies(realname):
    realname_verify(**ZHANG_SAN)
    [received] = realname.requests
    assert received.signature_ok is True
    assert received.headers["x-app-id"] == APP_ID
    assert len(received.headers["x-nonce"]) == 32
    assert abs(int(received.headers["x-timestamp"]) - time.time()) < 60
    assert received.body == json.dumps(
        {**ZHANG_SAN, "method": "carrier_three_element"}, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")


def test_the_matching_person_is_matched_with_the_provider_reference(realname):
    result = realname_verify(**ZHANG_SAN)
    assert result.outcome == Outcome.MATCHED
    assert (result.method, result.backend, result.reference) == ("carrier_three_element", "http", "r-1")
    assert json.loads(json.dumps(result.as_evidence()))["outcome"] == "matched"


def test_another_name_with_the_same_number_is_not_matched(realname):
    result = realname_verify(**{**ZHANG_SAN, "name": "李四"})
    assert result.outcome == Outcome.NOT_MATCHED
    assert result.reference == "r-1"


@pytest.fixture
def no_sleep(monkeypatch):
    """Any sleep in the code under test fails the test: web requests never sleep, tasks wait in the broker."""

    def refuse(seconds):
        raise AssertionError(f"time.sleep({seconds}) called")

    monkeypatch.setattr(time, "sleep", refuse)


def test_a_slow_provider_is_unavailable_after_one_attempt(realname, settings, no_sleep):
    settings.REALNAME_HTTP_TIMEOUT = 0.3
    for _ in range(3):
        realname.script(json={"result": "match", "request_id": "too-late"}, delay=5)
    result = realname_verify(**ZHANG_SAN)
    assert result.outcome == Outcome.UNAVAILABLE
    assert "timeout" in result.detail
    assert len(realname.requests) == 1


def test_a_503_is_unavailable_at_once_and_not_retried(realname, no_sleep):
    realname.script(status=503, json={"error": "busy"})
    result = realname_verify(**ZHANG_SAN)
    assert result.outcome == Outcome.UNAVAILABLE
    assert "HTTP 503" in result.detail
    assert len(realname.requests) == 1


@pytest.mark.django_db
def test_the_real_name_page_asks_the_provider_once_and_never_sleeps(client, realname, no_sleep):
    from tests.identity.test_people import ADULT_ID, NAME, sign_in

    person = sign_in(client)
    realname.script(status=503, json={"error": "down"})
    response = client.post("/identity/", {"legal_name": NAME, "id_number": ADULT_ID})
    assert response.status_code == 200
    assert "cannot be reached right now" in response.content.decode()
    assert len(realname.requests) == 1
    person.refresh_from_db()
    assert not person.is_verified
    client.post("/identity/", {"legal_name": NAME, "id_number": ADULT_ID})  # trying again later works
    person.refresh_from_db()
    assert person.is_verified
    assert len(realname.requests) == 2


@pytest.mark.parametrize(
    ("answer", "detail"),
    [
        ({"json": {"result": "unknown", "request_id": "r-unknown"}}, "could not decide"),
        ({"status": 400, "json": {"error": "bad id_number"}}, "HTTP 400"),
        ({"raw": b"<html>gateway error</html>"}, "HTTP 200"),
    ],
    ids=["unknown_result", "http_400", "body_not_json"],
)
def test_an_undecided_or_refused_check_is_unavailable_and_not_retried(realname, answer, detail):
    realname.script(**answer)
    result = realname_verify(**ZHANG_SAN)
    assert (result.outcome, result.backend) == (Outcome.UNAVAILABLE, "http")
    assert detail in result.detail
    assert len(realname.requests) == 1


def test_a_wrong_secret_is_refused_and_reported_as_unavailable_not_as_a_mismatch(realname, settings):
    settings.REALNAME_HTTP_SECRET = "not-the-shared-secret"
    result = realname_verify(**ZHANG_SAN)
    assert result.outcome == Outcome.UNAVAILABLE
    assert "HTTP 401" in result.detail
    assert [r.signature_ok for r in realname.requests] == [False]


def test_the_two_element_method_omits_the_phone(realname, settings):
    settings.REALNAME_HTTP_METHOD = "police_two_element"
    result = realname_verify(**ZHANG_SAN)
    assert result.outcome == Outcome.MATCHED
    assert result.method == "police_two_element"
    assert realname.requests[0].json == {
        "name": "张三",
        "id_number": "11010519491231002X",
        "method": "police_two_element",
    }


@pytest.mark.parametrize("name", ["REALNAME_HTTP_URL", "REALNAME_HTTP_APP_ID", "REALNAME_HTTP_SECRET"])
def test_missing_realname_configuration_raises_naming_the_setting(realname, settings, name):
    setattr(settings, name, "")
    with pytest.raises(ImproperlyConfigured, match=name):
        realname_verify(**ZHANG_SAN)
    assert realname.requests == []


def test_sms_send_returns_the_message_id_and_posts_the_e164_phone(sms):
    message_id = sms_send(phone="+8613800138000", text="验证码 123456")
    assert message_id == "m-1"
    [received] = sms.requests
    assert received.signature_ok is True
    assert received.json == {"to": "+8613800138000", "text": "验证码 123456"}


def test_sms_gateway_down_raises_gateway_unavailable(sms, settings):
    settings.SMS_HTTP_URL = closed_port_url("/sms")
    with pytest.raises(GatewayUnavailable) as raised:
        sms_send(phone="+8613800138000", text="验证码 123456")
    assert raised.value.code == "gateway_unavailable"
    assert "connection failed" in raised.value.reason


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_sms_gateway_overloaded_raises_gateway_unavailable_after_one_attempt(sms, no_sleep, status):
    sms.script(status=status, json={"error": "busy"})
    with pytest.raises(GatewayUnavailable, match=f"HTTP {status}") as raised:
        sms_send(phone="+8613800138000", text="验证码 123456")
    assert raised.value.retry_after is None
    assert len(sms.requests) == 1


def test_sms_gateway_timeout_raises_gateway_unavailable_after_one_attempt(sms, settings, no_sleep):
    settings.SMS_HTTP_TIMEOUT = 0.3
    sms.script(json={"message_id": "too-late"}, delay=5)
    with pytest.raises(GatewayUnavailable, match="timeout"):
        sms_send(phone="+8613800138000", text="验证码 123456")
    assert len(sms.requests) == 1


def test_sms_gateway_retry_after_is_passed_on_to_the_caller(sms):
    sms.script(status=429, json={"error": "slow down"}, headers={"Retry-After": "17"})
    with pytest.raises(GatewayUnavailable) as raised:
        sms_send(phone="+8613800138000", text="验证码 123456")
    assert raised.value.retry_after == 17.0


@pytest.mark.parametrize(
    ("answer", "status", "body"),
    [({"status": 400, "json": {"error": "bad number"}}, 400, "bad number"), ({"raw": b"OK"}, 200, "OK")],
    ids=["http_400", "body_not_json"],
)
def test_sms_gateway_rejection_raises_gateway_rejected_without_retrying(sms, answer, status, body):
    sms.script(**answer)
    with pytest.raises(GatewayRejected) as raised:
        sms_send(phone="+8613800138000", text="验证码 123456")
    assert raised.value.status == status
    assert body in raised.value.body
    assert len(sms.requests) == 1


def test_missing_sms_configuration_raises_naming_the_setting(sms, settings):
    settings.SMS_HTTP_SECRET = ""
    with pytest.raises(ImproperlyConfigured, match="SMS_HTTP_SECRET"):
        sms_send(phone="+8613800138000", text="验证码 123456")


def test_the_development_verifier_is_the_default_and_says_no_authority_was_consulted(development):
    assert isinstance(realname_verifier(), ChecksumOnlyVerifier)
    evidence = json.loads(json.dumps(realname_verify(**ZHANG_SAN).as_evidence()))
    assert evidence["outcome"] == "matched"
    assert (evidence["method"], evidence["backend"]) == ("checksum_only", "development")
    assert evidence["reference"].startswith("dev-")
    assert "no authority was consulted" in evidence["detail"]


def test_the_development_verifier_does_not_match_a_bad_checksum(development):
    result = realname_verify(**{**ZHANG_SAN, "id_number": "110105194912310021"})
    assert result.outcome == Outcome.NOT_MATCHED
    assert "“X”" in result.detail  # the validator's message names the expected check character
    assert "“1”" in result.detail
