"""Every answer of the REST API says `Cache-Control: no-store` (personal data, bearer tokens, live consent
state: RFC 6749 §5.1, RFC 7662 §4), errors and the lean verify answer included; a view that set its own
caching on purpose keeps it (the public status lists, the JWKS, the transparency log's URLs)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from consent import services
from consent.builders import build_granted_consent
from consent.models import ApiKey, ConsentRequest
from tests.consent.conftest import api_request_body

pytestmark = pytest.mark.django_db

VERIFY = "/api/v1/tokens/verify"


@pytest.fixture
def consent(pat_verified, pending_request):
    return build_granted_consent(person=pat_verified, request=pending_request)


def service(organization, scopes=tuple(ApiKey.Scope.values)) -> APIClient:
    _key, value = services.api_key_create(actor="test", organization=organization, name="svc", scopes=list(scopes))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {value}")
    return client


def verify_body(consent, **change) -> dict:
    return {"token": consent.token.value, "modality": "face", "operation": "face_swap"} | change


def lean_post(client, body):
    """A verify call and whether the lean path answered it (its first statement reads the key with the consent)."""
    with CaptureQueriesContext(connection) as queries:
        response = client.post(VERIFY, body, format="json")
    statements = [q["sql"] for q in queries.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))]
    return response, statements[0].startswith("SELECT k.id")


def test_a_drf_answer_with_personal_data_is_no_store(organization, pending_request):
    response = service(organization).get(f"/api/v1/requests/{pending_request.pk}")
    assert response.status_code == 200 and response.json()["id"] == pending_request.pk
    assert response["Cache-Control"] == "no-store"


def test_a_created_request_is_no_store_and_created_once(organization):
    response = service(organization).post(
        "/api/v1/requests", api_request_body(), format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    assert response.status_code == 201
    assert response["Cache-Control"] == "no-store"
    assert ConsentRequest.objects.count() == 1


def test_error_answers_are_no_store(organization, other_organization, pending_request, settings):
    client = service(organization)
    invalid = client.post(
        "/api/v1/requests", api_request_body(phone="not a phone"), format="json", HTTP_IDEMPOTENCY_KEY="k-2"
    )
    unauthenticated = APIClient().get(f"/api/v1/requests/{pending_request.pk}")
    foreign = service(other_organization).get(f"/api/v1/requests/{pending_request.pk}")
    no_route = client.get("/api/v1/no-such-thing")
    settings.REQUEST_BODY_MAX_BYTES = 10
    too_large = client.post("/api/v1/requests", api_request_body(), format="json", HTTP_IDEMPOTENCY_KEY="k-3")

    answers = {400: invalid, 401: unauthenticated, 404: foreign, 413: too_large}
    for status, response in answers.items():
        assert response.status_code == status, (status, response.content)
        assert set(response.json()) == {"code", "message", "fields"}, status
        assert response["Cache-Control"] == "no-store", status
    assert no_route.status_code == 404 and no_route.json()["code"] == "not_found"
    assert no_route["Cache-Control"] == "no-store"
    assert ConsentRequest.objects.count() == 1  # the refused creations made nothing


def test_a_rate_limited_answer_is_no_store(limit_of_two, organization, pending_request):
    client = service(organization)
    answers = [client.get(f"/api/v1/requests/{pending_request.pk}") for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[2].json()["code"] == "rate_limited"
    assert all(a["Cache-Control"] == "no-store" for a in answers)


def test_the_lean_verify_answer_is_no_store_active_inactive_and_rate_limited(limit_of_two, organization, consent):
    client = service(organization, scopes=(ApiKey.Scope.TOKENS_VERIFY,))

    active, lean = lean_post(client, verify_body(consent))
    assert lean and active.status_code == 200 and active.json()["active"] is True
    assert active["Cache-Control"] == "no-store"
    inactive, lean = lean_post(client, verify_body(consent, operation="attribute_editing"))
    assert lean and inactive.json()["active"] is False
    assert inactive["Cache-Control"] == "no-store"
    limited, lean = lean_post(client, verify_body(consent))
    assert lean and limited.status_code == 429
    assert limited["Cache-Control"] == "no-store"


def test_the_framework_verify_answer_is_no_store(organization, consent):
    client = service(organization, scopes=(ApiKey.Scope.TOKENS_VERIFY,))
    response, lean = lean_post(client, verify_body(consent, token_type_hint="consent+jwt"))
    assert not lean and response.status_code == 200 and response.json()["active"] is True
    assert response["Cache-Control"] == "no-store"


def test_a_view_that_sets_its_own_caching_keeps_it(organization, consent, client):
    """The consent read (a live token: add_never_cache_headers) keeps its fuller header; the public status list
    under /api/ keeps its max-age; the JWKS and the log's URLs (outside /api/) are left as they are."""
    own = service(organization).get(f"/api/v1/consents/{consent.pk}")
    assert own.status_code == 200 and own.json()["token"]
    assert own["Cache-Control"] == "max-age=0, no-cache, no-store, must-revalidate, private"

    status_list = client.get(f"/api/v1/status-lists/{consent.token.status_list.number}")
    assert status_list.status_code == 200
    assert status_list["Cache-Control"] == "public, max-age=300"
    jwks = client.get("/.well-known/jwks.json")
    assert jwks.status_code == 200 and jwks["Cache-Control"] == "public, max-age=300"
    log_key = client.get("/log/key")
    assert log_key.status_code == 200 and log_key["Cache-Control"] == "public, max-age=3600"


def test_pages_outside_the_api_are_not_touched(client):
    response = client.get("/privacy/")
    assert response.status_code == 200
    assert not response.has_header("Cache-Control")
