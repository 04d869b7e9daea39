"""The API as other people's tools and RFCs see it: openapi-spec-validator, RFC 7662 form encoding, the
documented introspection claims, strict input, one language per answer.

The slower checks by generated clients and schemathesis are in test_conformance_tools.py (`make test-conformance`).
"""

import hashlib
import json

import pytest
from django.test import Client
from openapi_spec_validator import validate
from rest_framework.test import APIClient

from consent import services
from consent.builders import build_granted_consent
from consent.models import ApiKey, ConsentRequest, Presentation
from tests.consent.conftest import api_request_body, png_bytes

pytestmark = pytest.mark.django_db

FACE_SHA256 = hashlib.sha256(png_bytes()).hexdigest()


@pytest.fixture
def consent(pat_verified, pending_request):
    return build_granted_consent(person=pat_verified, request=pending_request)


@pytest.fixture
def service(organization) -> APIClient:
    _key, value = services.api_key_create(
        actor="test", organization=organization, name="svc", scopes=ApiKey.Scope.values
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {value}")
    return client


def served_schema() -> dict:
    response = Client().get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return json.loads(response.content)


def test_the_served_schema_passes_openapi_spec_validator():
    validate(served_schema())  # raises OpenAPIValidationError naming the first fault


def test_every_request_body_is_one_media_type_and_closed_where_the_api_refuses_extras():
    # openapi-python-client cannot build an operation whose body comes in two media types.
    schema = served_schema()
    bodies = {
        f"{m} {p}": op["requestBody"]
        for p, ops in schema["paths"].items()
        for m, op in ops.items()
        if "requestBody" in op
    }
    assert bodies and all(len(body["content"]) == 1 for body in bodies.values()), bodies
    assert list(bodies["post /api/v1/requests"]["content"]) == ["application/json"]
    assert list(bodies["post /api/v1/tokens/verify"]["content"]) == ["application/json"]
    components = schema["components"]["schemas"]
    for name in ("RequestCreateInputRequest", "RequestItemInputRequest", "RequestSampleInputRequest"):
        assert components[name]["additionalProperties"] is False, name
    assert components["RequestCreateInputRequest"]["properties"]["items"]["items"] == {
        "$ref": "#/components/schemas/RequestItemInputRequest"
    }


# ---- the verify endpoint: RFC 7662 ----------------------------------------------------------------


def test_verify_accepts_the_form_encoding_introspection_clients_send(service, consent):
    fields = {"token": consent.token.value, "modality": "face", "operation": "face_swap", "media_sha256": FACE_SHA256}
    response = service.post("/api/v1/tokens/verify", fields)  # application/x-www-form-urlencoded... or multipart
    encoded = service.post(
        "/api/v1/tokens/verify",
        "&".join(f"{k}={v}" for k, v in fields.items()),
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == encoded.status_code == 200, encoded.content
    assert encoded.json()["active"] is True and encoded.json()["cid"] == consent.pk
    assert Presentation.objects.filter(consent=consent, result="active").count() == 2


def test_the_active_answer_carries_exactly_the_documented_claims(service, consent):
    documented = set(served_schema()["components"]["schemas"]["Introspection"]["properties"])
    body = service.post(
        "/api/v1/tokens/verify",
        {"token": consent.token.value, "modality": "face", "operation": "face_swap", "media_sha256": FACE_SHA256},
        format="json",
    ).json()
    assert body["active"] is True
    assert set(body) == documented - {"reason"}
    assert set(body["status"]["status_list"]) == {"idx", "uri"}


@pytest.mark.parametrize("token", [12345, True, ["a.b.c"], {"t": "a.b.c"}])
def test_a_token_that_is_not_a_string_is_a_field_error(service, consent, token):
    response = service.post(
        "/api/v1/tokens/verify", {"token": token, "modality": "face", "operation": "face_swap"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid" and list(response.json()["fields"]) == ["token"]
    assert not Presentation.objects.exists()


# ---- request creation: strict, closed input ------------------------------------------------------


@pytest.mark.parametrize("key", ["", "   ", "ключ", "a" * 201])
def test_an_empty_unprintable_or_long_idempotency_key_is_refused(service, key):
    response = service.post("/api/v1/requests", api_request_body(), format="json", HTTP_IDEMPOTENCY_KEY=key)
    assert response.status_code == 400
    assert response.json()["code"] == "idempotency_key_required"
    assert not ConsentRequest.objects.exists()


def test_the_idempotency_key_pattern_in_the_schema_is_the_one_the_api_applies():
    from consent.api.views import IDEMPOTENCY_KEY

    (parameter,) = served_schema()["paths"]["/api/v1/requests"]["post"]["parameters"]
    assert parameter["schema"]["pattern"] == IDEMPOTENCY_KEY.pattern and parameter["schema"]["minLength"] == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"expires_in_days": "7"}, "expires_in_days"),
        ({"end_user_prompted_to_notify": "true"}, "end_user_prompted_to_notify"),
        ({"end_user_reference": 4711}, "end_user_reference"),
        ({"notice_recipients": "无 None"}, "notice_recipients"),
        ({"notice_recipient": ["Studio"]}, "notice_recipient"),
    ],
)
def test_a_value_of_the_wrong_type_or_an_unknown_field_is_refused_by_name(service, change, field):
    response = service.post(
        "/api/v1/requests", api_request_body(**change), format="json", HTTP_IDEMPOTENCY_KEY=f"k-{field}"
    )
    assert response.status_code == 400, response.content
    assert field in response.json()["fields"], response.json()
    assert not ConsentRequest.objects.exists()


def test_an_unknown_field_inside_an_item_is_named_with_its_position(service):
    body = api_request_body()
    body["items"][0]["valid_untill"] = "2030-01-01"
    response = service.post("/api/v1/requests", body, format="json", HTTP_IDEMPOTENCY_KEY="k-item")
    assert response.status_code == 400
    assert "items[0].valid_untill" in response.json()["fields"], response.json()


def test_recipients_are_a_list_of_names_in_the_frozen_terms(service):
    body = api_request_body(notice_recipients=["星光影业", "Dub Studio Ltd"])
    response = service.post("/api/v1/requests", body, format="json", HTTP_IDEMPOTENCY_KEY="k-rec")
    assert response.status_code == 201, response.content
    request = ConsentRequest.objects.get()
    assert request.notice_recipients == ["星光影业", "Dub Studio Ltd"]
    assert json.loads(request.items.get().terms_json)["notice"]["recipients"] == ["星光影业", "Dub Studio Ltd"]


def test_a_post_to_an_unknown_api_path_is_a_json_404_not_a_csrf_page():
    response = Client(enforce_csrf_checks=True).post("/api/v1/requests/abc/cancel")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


# ---- one language per answer ---------------------------------------------------------------------


def test_without_accept_language_every_message_is_english_whatever_cookie_the_client_has(service):
    service.cookies["django_language"] = "zh-hans"
    response = service.post("/api/v1/requests", {"phone": 5}, format="json", HTTP_IDEMPOTENCY_KEY="k-en")
    body = response.json()
    assert response.status_code == 400 and response["Content-Language"] == "en"
    assert body["message"] == "Some fields need attention."
    assert body["fields"]["end_user_reference"] == ["This field is required."]
    assert body["fields"]["phone"] == ["Not a valid string."]
    missing = service.post("/api/v1/requests", api_request_body(), format="json")
    assert missing.json()["message"].startswith("Send an Idempotency-Key header")


def test_accept_language_chooses_chinese_for_the_message_and_every_field(service):
    response = service.post(
        "/api/v1/requests", {"phone": 5}, format="json", HTTP_IDEMPOTENCY_KEY="k-zh", HTTP_ACCEPT_LANGUAGE="zh-CN"
    )
    body = response.json()
    assert response["Content-Language"] == "zh-hans"
    assert body["message"] == "部分字段需要修改。"
    assert body["fields"]["end_user_reference"] == ["该字段是必填项。"]
    missing = service.post("/api/v1/requests", api_request_body(), format="json", HTTP_ACCEPT_LANGUAGE="zh-Hans")
    assert missing.json()["message"].startswith("请发送 Idempotency-Key")
    unknown = service.post(
        "/api/v1/requests", api_request_body(x=1), format="json", HTTP_IDEMPOTENCY_KEY="k", HTTP_ACCEPT_LANGUAGE="zh"
    )
    assert unknown.json()["fields"]["x"] == ["未知字段。"]


def test_a_language_we_do_not_have_falls_back_to_english(service):
    response = service.post(
        "/api/v1/requests", {}, format="json", HTTP_IDEMPOTENCY_KEY="k-fr", HTTP_ACCEPT_LANGUAGE="fr-FR, de;q=0.5"
    )
    assert response.json()["message"] == "Some fields need attention."
