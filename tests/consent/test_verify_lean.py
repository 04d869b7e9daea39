"""The verify hot path (consent.api.verify): it answers exactly as the framework view does, in two SQL
statements, and every guard of that view holds on it too: the key's secret, revocation and scope, the
per-key rate limit, the organisation scope of the consent, the presentation row before the answer."""

import base64
import hashlib
import json
from datetime import timedelta
from urllib.parse import urlencode

import pytest
import time_machine
from django.db import OperationalError, connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from consent import selectors, services
from consent.api import verify
from consent.builders import build_granted_consent
from consent.models import ApiKey, Presentation
from tests.consent.conftest import png_bytes
from tests.consent.test_tokens import b64

pytestmark = pytest.mark.django_db
FACE_SHA256 = hashlib.sha256(png_bytes()).hexdigest()

LEAN_STATEMENTS = 2  # the key with the consent, the presentation's INSERT


@pytest.fixture
def consent(pat_verified, pending_request):
    return build_granted_consent(person=pat_verified, request=pending_request)


def key_for(organization, scopes=(ApiKey.Scope.TOKENS_VERIFY,)) -> tuple[ApiKey, str]:
    return services.api_key_create(actor="test", organization=organization, name="svc", scopes=list(scopes))


def client_for(value: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {value}")
    return client


def post(client, body, **extra):
    """The call and the SQL statements it ran (savepoints aside)."""
    with CaptureQueriesContext(connection) as queries:
        response = client.post("/api/v1/tokens/verify", body, **({"format": "json"} | extra))
    statements = [q["sql"] for q in queries.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))]
    return response, statements


def warm(client, consent):
    """One call first: it records the key's use and reads the signing key, which later calls skip."""
    post(client, {"token": consent.token.value, "modality": "face", "operation": "face_swap"})


def row(presentation: Presentation) -> tuple:
    fields = ("consent_id", "api_key_id", "organization_id", "modality", "operation", "media_sha256", "result")
    return (*(getattr(presentation, name) for name in fields), presentation.reason, presentation.client_ip)


def revoke_consent(consent):
    services.consent_revoke(person=consent.person, consent_id=consent.pk)


def forged_other_audience(consent, other_organization) -> str:
    """A token signed by us for the other organisation, naming this organisation's consent."""
    from tests.consent.test_tokens import our_private_key, sign

    header, payload = consent.token.value.split(".")[:2]
    header = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return sign(header, claims | {"aud": str(other_organization.public_id)}, our_private_key(header["kid"]))


# case -> (prepare and return the token, operation, media)
CASES = {
    "active": (lambda c, o: c.token.value, "face_swap", ""),
    "active with media": (lambda c, o: c.token.value, "face_swap", FACE_SHA256.upper()),
    "revoked": (lambda c, o: revoke_consent(c) or c.token.value, "face_swap", ""),
    "operation not consented": (lambda c, o: c.token.value, "attribute_editing", ""),
    "media not bound": (lambda c, o: c.token.value, "face_swap", "0" * 64),
    "malformed": (lambda c, o: "a.b.c", "face_swap", ""),
    "bad signature": (lambda c, o: c.token.value[:-4] + "AAAA", "face_swap", ""),
    "unknown kid": (
        lambda c, o: (
            b64(json.dumps({"alg": "EdDSA", "typ": "consent+jwt", "kid": "x"}).encode())
            + "."
            + c.token.value.split(".", 1)[1]
        ),
        "face_swap",
        "",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_lean_path_answers_and_logs_exactly_as_the_framework_view(case, organization, consent):
    make, operation, media = CASES[case]
    _key, value = key_for(organization)
    client = client_for(value)
    warm(client, consent)
    body = {"token": make(consent, organization), "modality": "face", "operation": operation, "media_sha256": media}

    lean, statements = post(client, body)
    # A field the framework view ignores and the lean path leaves to it: the same call, the framework's way.
    framework, framework_statements = post(client, body | {"token_type_hint": "consent+jwt"})

    # An unknown kid is looked for among the published keys each time (only known keys are kept).
    assert len(statements) == LEAN_STATEMENTS + (case == "unknown kid"), statements
    assert statements[0].startswith("SELECT k.id") and not framework_statements[0].startswith("SELECT k.id")
    assert lean.status_code == framework.status_code == 200
    lean_body, framework_body = lean.json(), framework.json()
    if lean_body["active"]:
        assert lean_body.pop("presentation_id") + 1 == framework_body.pop("presentation_id")
    assert lean_body == framework_body
    assert same_headers(lean, framework)
    first, second = Presentation.objects.order_by("-id")[:2][::-1]
    assert row(first) == row(second)


def same_headers(lean, framework) -> bool:
    """Every header of both answers, name and value; the length only as each body's own (the presentation id
    in an active answer is one more on the second call, which may take one more digit)."""
    lean_headers, framework_headers = dict(lean.headers), dict(framework.headers)
    assert lean_headers.pop("Content-Length") == str(len(lean.content))
    assert framework_headers.pop("Content-Length") == str(len(framework.content))
    assert lean_headers == framework_headers
    return True


# How services call, and as a deployment serves them: over HTTPS with HSTS and a cross-origin policy,
# another language, a form body, an answer that is no.
HEADER_CASES = {
    "json, active": ({}, {}, {}),
    "json, inactive": ({}, {"operation": "attribute_editing"}, {}),
    "form body": ({}, {}, {"format": None, "content_type": "application/x-www-form-urlencoded"}),
    "chinese": ({}, {}, {"HTTP_ACCEPT_LANGUAGE": "zh-CN,zh;q=0.9"}),
    "https, production security settings": (
        {
            "SECURE_HSTS_SECONDS": 31536000,
            "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
            "SECURE_HSTS_PRELOAD": True,
            "SECURE_SSL_REDIRECT": True,
            "SECURE_CROSS_ORIGIN_OPENER_POLICY": "same-origin",
        },
        {},
        {"secure": True},
    ),
}


@pytest.mark.parametrize("case", sorted(HEADER_CASES))
def test_the_lean_answer_carries_every_header_of_the_framework_answer(case, settings, organization, consent):
    overrides, change, extra = HEADER_CASES[case]
    for name, value in overrides.items():
        setattr(settings, name, value)
    _key, value = key_for(organization)
    client = client_for(value)  # made after the settings: its middleware reads them when first called
    body = {"token": consent.token.value, "modality": "face", "operation": "face_swap"} | change

    def call(fields):
        return post(client, urlencode(fields) if "content_type" in extra else fields, **extra)

    call(body)  # warm: the key's first use is recorded, the signing keys read
    lean, statements = call(body)
    framework, framework_statements = call(body | {"token_type_hint": "consent+jwt"})

    assert statements[0].startswith("SELECT k.id") and not framework_statements[0].startswith("SELECT k.id")
    assert lean.status_code == framework.status_code == 200
    assert same_headers(lean, framework)
    # What each layer adds is there, so that equal means both carry it (not that both lack it).
    for name in ("Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options", "Referrer-Policy"):
        assert lean.has_header(name), name
    assert lean["Allow"] == "POST, OPTIONS" and "Accept-Language" in lean["Vary"]
    assert lean["Content-Language"] == ("zh-hans" if case == "chinese" else "en")
    if extra.get("secure"):
        assert lean["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
        assert lean["Cross-Origin-Opener-Policy"] == "same-origin"


def test_the_shortcut_serves_the_route_of_the_framework_view():
    assert reverse("api-token-verify") == verify.PATH


def test_a_form_encoded_call_takes_the_lean_path(organization, consent):
    _key, value = key_for(organization)
    client = client_for(value)
    warm(client, consent)
    fields = {"token": consent.token.value, "modality": "face", "operation": "face_swap"}
    with CaptureQueriesContext(connection) as queries:
        response = client.post(
            "/api/v1/tokens/verify",
            "&".join(f"{k}={v}" for k, v in fields.items()),
            content_type="application/x-www-form-urlencoded",
        )
    assert response.json()["active"] is True
    assert len([q for q in queries.captured_queries if not q["sql"].startswith(("SAVE", "RELEASE"))]) == 2


# ---- the key: secret, revocation, scope ----------------------------------------------------------


def test_a_revoked_key_is_refused_on_the_lean_path(organization, consent):
    key, value = key_for(organization)
    client = client_for(value)
    warm(client, consent)
    services.api_key_revoke(actor="test", organization=organization, key_id=key.pk)
    before = Presentation.objects.count()

    response, _statements = post(client, {"token": consent.token.value, "modality": "face", "operation": "face_swap"})

    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated" and "revoked" in response.json()["message"]
    assert Presentation.objects.count() == before


def test_a_wrong_secret_is_refused_on_the_lean_path(organization, consent):
    _key, value = key_for(organization)
    warm(client_for(value), consent)
    client = client_for(value[:-2] + ("aa" if not value.endswith("aa") else "bb"))

    response, _statements = post(client, {"token": consent.token.value, "modality": "face", "operation": "face_swap"})

    assert response.status_code == 401
    assert response.json() == {"code": "unauthenticated", "message": "Unknown API key.", "fields": {}}
    assert Presentation.objects.count() == 1  # the warm-up call's


def test_a_key_without_the_verify_scope_is_refused_on_the_lean_path(organization, consent):
    _key, value = key_for(organization, scopes=[ApiKey.Scope.CONSENTS_READ])

    response, _statements = post(
        client_for(value), {"token": consent.token.value, "modality": "face", "operation": "face_swap"}
    )

    assert response.status_code == 403
    assert response.json()["code"] == "forbidden" and "tokens:verify" in response.json()["message"]
    assert not Presentation.objects.exists()


def test_a_key_is_marked_used_at_most_once_a_minute(organization, consent):
    key, value = key_for(organization)
    client = client_for(value)
    body = {"token": consent.token.value, "modality": "face", "operation": "face_swap"}
    now = timezone.now()
    with time_machine.travel(now, tick=False):
        post(client, body)
        first = ApiKey.objects.get(pk=key.pk).last_used_at
        assert first == now
    with time_machine.travel(now + timedelta(seconds=30), tick=False):
        _response, statements = post(client, body)
        assert not [sql for sql in statements if sql.startswith('UPDATE "consent_apikey"')]
        assert ApiKey.objects.get(pk=key.pk).last_used_at == first
    with time_machine.travel(now + timedelta(seconds=61), tick=False):
        _response, statements = post(client, body)
        assert len([sql for sql in statements if sql.startswith('UPDATE "consent_apikey"')]) == 1
        assert ApiKey.objects.get(pk=key.pk).last_used_at == now + timedelta(seconds=61)


# ---- the consent: live and scoped ----------------------------------------------------------------


def test_a_withdrawal_is_seen_by_the_next_lean_call(organization, consent):
    _key, value = key_for(organization)
    client = client_for(value)
    body = {"token": consent.token.value, "modality": "face", "operation": "face_swap"}
    assert post(client, body)[0].json()["active"] is True

    revoke_consent(consent)
    response, statements = post(client, body)

    assert response.json() == {"active": False, "reason": "revoked"}
    assert len(statements) == LEAN_STATEMENTS
    assert Presentation.objects.order_by("-id").first().reason == "revoked"


def test_the_one_read_finds_no_consent_of_another_organisation(consent, other_organization):
    """The selector's own scope, whatever token_verify would check after it."""
    key, _value = key_for(other_organization)
    caller = selectors.verify_caller_get(prefix=key.prefix, consent_id=consent.pk, now=timezone.now())
    assert caller.organization_id == other_organization.pk
    assert caller.consent is None
    own, _value = key_for(consent.organization)
    assert selectors.verify_caller_get(prefix=own.prefix, consent_id=consent.pk, now=timezone.now()).consent.pk == (
        consent.pk
    )


def test_a_token_for_another_organisation_naming_this_consent_finds_nothing(consent, other_organization):
    _key, value = key_for(other_organization)
    response, _statements = post(
        client_for(value),
        {"token": forged_other_audience(consent, other_organization), "modality": "face", "operation": "face_swap"},
    )
    assert response.json() == {"active": False, "reason": "unknown_consent"}
    assert Presentation.objects.get().consent_id is None


# ---- the rate limit -------------------------------------------------------------------------------


def test_the_rate_limit_holds_on_the_lean_path_and_a_refused_call_logs_nothing(limit_of_two, organization, consent):
    _key, value = key_for(organization)
    client = client_for(value)
    body = {"token": consent.token.value, "modality": "face", "operation": "face_swap"}

    answers = [post(client, body)[0] for _ in range(3)]

    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[2].json()["code"] == "rate_limited"
    assert 0 < int(answers[2]["Retry-After"]) <= 120
    assert Presentation.objects.count() == 2


def test_a_caller_that_waits_retry_after_is_admitted_and_not_a_second_sooner(limit_of_two, organization, consent):
    _key, value = key_for(organization)
    client = client_for(value)
    body = {"token": consent.token.value, "modality": "face", "operation": "face_swap"}
    minute = timezone.now().replace(second=0, microsecond=0) + timedelta(minutes=1)  # a window starts there
    with time_machine.travel(minute + timedelta(seconds=50), tick=False) as clock:
        assert [post(client, body)[0].status_code for _ in range(2)] == [200, 200]
        clock.shift(10)
        refused = post(client, body)[0]
        # The new minute has no call yet; the last one's two weigh one call halfway through it.
        assert refused.status_code == 429 and refused["Retry-After"] == "30"
        assert refused.json()["code"] == "rate_limited"
        clock.shift(29)
        early = post(client, body)[0]
        assert early.status_code == 429 and early["Retry-After"] == "1"
        clock.shift(1)
        answer, statements = post(client, body)
    assert answer.status_code == 200 and statements[0].startswith("SELECT k.id")
    assert Presentation.objects.count() == 3


def test_the_lean_path_and_the_other_endpoints_share_one_limit_per_key(limit_of_two, organization, consent):
    _key, value = key_for(organization, scopes=[ApiKey.Scope.TOKENS_VERIFY, ApiKey.Scope.CONSENTS_READ])
    client = client_for(value)
    assert client.get(f"/api/v1/consents/{consent.pk}").status_code == 200
    assert client.get(f"/api/v1/consents/{consent.pk}").status_code == 200
    response, _statements = post(client, {"token": consent.token.value, "modality": "face", "operation": "face_swap"})
    assert response.status_code == 429
    assert not Presentation.objects.exists()


# ---- the database away ----------------------------------------------------------------------------


def test_a_database_failure_on_the_lean_path_is_the_apis_503_in_the_callers_language(
    monkeypatch, organization, consent
):
    _key, value = key_for(organization)

    def gone(**kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(selectors, "verify_caller_get", gone)
    response = Client(raise_request_exception=False).post(
        "/api/v1/tokens/verify",
        {"token": consent.token.value, "modality": "face", "operation": "face_swap"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {value}",
        HTTP_ACCEPT_LANGUAGE="zh-hans",
    )
    assert response.status_code == 503
    assert response.json()["code"] == "service_unavailable"
    assert response.json()["message"] == "服务暂时不可用；请几秒后重试。"


def test_a_host_not_allowed_is_refused_before_anything_is_logged(organization, consent):
    _key, value = key_for(organization)
    response = Client(raise_request_exception=False).post(
        "/api/v1/tokens/verify",
        {"token": consent.token.value, "modality": "face", "operation": "face_swap"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {value}",
        HTTP_HOST="attacker.example",
    )
    assert response.status_code == 400
    assert response["X-Content-Type-Options"] == "nosniff"  # the stack's refusal, through its layers
    assert not Presentation.objects.exists()


def test_an_https_redirect_due_is_left_to_the_security_middleware(settings, organization, consent):
    settings.SECURE_SSL_REDIRECT = True
    _key, value = key_for(organization)
    response, _statements = post(
        client_for(value), {"token": consent.token.value, "modality": "face", "operation": "face_swap"}
    )
    assert response.status_code == 301 and response["Location"].startswith("https://")
    assert not Presentation.objects.exists()


def test_a_body_over_the_limit_is_refused_unread(settings, organization, consent):
    settings.REQUEST_BODY_MAX_BYTES = 100
    _key, value = key_for(organization)
    response, _statements = post(
        client_for(value), {"token": consent.token.value, "modality": "face", "operation": "face_swap"}
    )
    assert response.status_code == 413 and response.json()["code"] == "request_too_large"
    assert not Presentation.objects.exists()


def test_the_answer_names_the_language_asked_for(organization, consent):
    _key, value = key_for(organization)
    response, statements = post(
        client_for(value),
        {"token": consent.token.value, "modality": "face", "operation": "face_swap"},
        HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9",
    )
    assert response.json()["active"] is True and statements[0].startswith("SELECT k.id")
    assert response["Content-Language"] == "zh-hans"


def test_a_form_encoded_call_the_lean_path_leaves_is_answered_by_the_framework_view(organization, consent):
    _key, value = key_for(organization)
    fields = {"token": consent.token.value, "modality": "face", "operation": "face_swap", "token_type_hint": "x"}
    with CaptureQueriesContext(connection) as queries:
        response = client_for(value).post(
            "/api/v1/tokens/verify",
            "&".join(f"{k}={v}" for k, v in fields.items()),
            content_type="application/x-www-form-urlencoded",
        )
    assert response.status_code == 200 and response.json()["active"] is True
    assert not queries.captured_queries[0]["sql"].startswith("SELECT k.id")
    assert Presentation.objects.get().consent_id == consent.pk


@pytest.mark.parametrize(
    "change",
    [
        {"operation": {}},
        {"modality": []},
        {"operation": 1},
        {"modality": None},
        {"media_sha256": {}},
        {"token": ["a.b.c"]},
        {"token": " " + "a.b.c"},
        {"media_sha256": "0" * 63},
    ],
)
def test_a_field_the_lean_path_does_not_take_is_the_framework_views_field_error(change, organization, consent):
    _key, value = key_for(organization)
    body = {"token": consent.token.value, "modality": "face", "operation": "face_swap"} | change
    response, _statements = post(client_for(value), body)
    if change == {"token": " a.b.c"}:  # the framework view trims it, then finds it malformed
        assert response.json() == {"active": False}
        return
    assert response.status_code == 400
    assert response.json()["code"] == "invalid" and list(response.json()["fields"]) == list(change)
    assert not Presentation.objects.exists()
