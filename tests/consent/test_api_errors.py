"""Every answer under /api/ is the JSON error shape, whatever went wrong; token reads and exports are never cached."""

import json

import pytest
from django.test import Client

from consent.services import consent_grant
from tests.consent.test_api import api, body, key_for

pytestmark = pytest.mark.django_db

SHAPE = {"code", "message", "fields"}


@pytest.fixture
def service(organization):
    return api(key_for(organization))


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_deeply_nested_json_is_a_400_parse_error_not_a_500(service):
    response = service.post(
        "/api/v1/requests", data=nested(100_000), content_type="application/json", HTTP_IDEMPOTENCY_KEY="deep"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "malformed_request"
    assert set(response.json()) == SHAPE


def test_json_nested_past_the_depth_limit_but_under_the_decoder_limit_is_refused(service):
    # 500 levels decode fine but would overflow the stack later (serializers, canonical JSON).
    payload = body(end_user_reference=json.loads(nested(500)))
    response = service.post(
        "/api/v1/requests", data=json.dumps(payload), content_type="application/json", HTTP_IDEMPOTENCY_KEY="d"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "malformed_request"
    assert "nested deeper" in response.json()["message"]


def test_deeply_nested_multipart_payload_is_a_field_error(service):
    response = service.post(
        "/api/v1/requests", {"payload": nested(100_000)}, format="multipart", HTTP_IDEMPOTENCY_KEY="deep-mp"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert "payload" in response.json()["fields"]


@pytest.mark.parametrize("path", ["/api/v1/nope", "/api/v2/requests", "/api/", "/api/v1/requests/abc"])
def test_unknown_api_paths_answer_a_json_404(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "not_found"
    assert set(response.json()) == SHAPE


def test_unknown_api_paths_answer_json_even_in_debug(client, settings):
    settings.DEBUG = True
    response = client.get("/api/v1/nope")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_unknown_paths_outside_the_api_keep_the_html_page(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_wrong_method_is_a_json_405(service):
    response = service.delete("/api/v1/tokens/verify")
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"


def test_a_crash_under_the_api_answers_json_500(organization, monkeypatch):
    from consent.api import views

    def boom(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(views.selectors, "request_get_for_operator", boom)
    client = Client(raise_request_exception=False)
    response = client.get("/api/v1/requests/1", HTTP_AUTHORIZATION=f"Bearer {key_for(organization)}")
    assert response.status_code == 500
    assert response.json() == {
        "code": "server_error",
        "message": "Something went wrong on our side; the request can be retried.",
        "fields": {},
    }
    assert "secret internals" not in response.content.decode()


def test_too_many_multipart_files_is_a_json_400(service, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 2
    from django.core.files.uploadedfile import SimpleUploadedFile

    files = {f"items[0].samples{i}": SimpleUploadedFile(f"{i}.png", b"x") for i in range(3)}
    response = service.post(
        "/api/v1/requests", {"payload": json.dumps(body()), **files}, format="multipart", HTTP_IDEMPOTENCY_KEY="m"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "malformed_request"
    files = {f"items[0].samples{i}": SimpleUploadedFile(f"{i}.png", b"x") for i in range(3)}
    response = service.post(
        "/api/v1/requests",
        {"payload": json.dumps(body()), **files},
        format="multipart",
        HTTP_IDEMPOTENCY_KEY="m2",
        HTTP_ACCEPT_LANGUAGE="zh-hans",
    )
    assert response.json()["message"] == "请求格式有误：字段或文件过多，或 multipart 内容已损坏。"


# ---- no-store on answers that carry a token or personal data ------------------------------------


@pytest.fixture
def granted(person_client, pending_request):
    person_client.get(f"/r/{pending_request.code}/")
    consent = consent_grant(actor=person_client.person, item_id=pending_request.items.get(position=1).pk)
    return person_client, consent


def test_reading_a_consent_with_its_token_is_not_cacheable(granted, organization):
    _client, consent = granted
    response = api(key_for(organization)).get(f"/api/v1/consents/{consent.pk}")
    assert response.status_code == 200 and response.json()["token"]
    assert "no-store" in response["Cache-Control"]


def test_the_personal_data_export_is_not_cacheable(granted):
    client, _consent = granted
    response = client.post("/me/export/")
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]


@pytest.mark.pdf
def test_signed_records_are_not_cacheable(granted, organization):
    client, consent = granted
    response = client.get(f"/me/consents/{consent.pk}/artifacts/grant.pdf")
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]


def test_an_error_answer_speaks_one_language_the_callers(service):
    """The summary and the field messages come from the same catalogue: no English headline over Chinese fields."""
    response = service.post(
        "/api/v1/requests",
        data=json.dumps({"phone": "+8613900000099"}),
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="lang",
        HTTP_ACCEPT_LANGUAGE="zh-hans",
    )
    assert response.status_code == 400
    assert response.json()["message"] == "部分字段需要修改。"
    assert response.json()["fields"]["end_user_reference"] == ["该字段是必填项。"]
    missing = Client().get("/api/v1/nothing-here", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert missing.json() == {"code": "not_found", "message": "未找到。", "fields": {}}
