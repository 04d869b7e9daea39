"""The REST API: keys and scopes, request creation with Idempotency-Key, reads scoped to the key's organisation."""

import json
import threading

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from consent import services
from consent.models import ApiKey, ConsentRequest, IdempotencyRecord
from identity.crypto import mask_phone
from identity.models import OutboxMessage
from tests.consent.conftest import PERSON_PHONE, png_bytes, wav_bytes
from tests.consent.conftest import api_request_body as body

pytestmark = pytest.mark.django_db

ALL = list(ApiKey.Scope.values)


def key_for(organization, scopes=ALL):
    return services.api_key_create(actor="test", organization=organization, name="svc", scopes=scopes)[1]


def api(key=None):
    client = APIClient()
    if key:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


def create(client, payload, key="k-1"):
    return client.post("/api/v1/requests", payload, format="json", HTTP_IDEMPOTENCY_KEY=key)


@pytest.fixture
def service(organization):
    return api(key_for(organization))


def test_missing_or_unknown_key_is_401_with_the_error_shape(organization):
    response = api().post("/api/v1/requests", body(), format="json")
    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"
    response = api("lc_nope.secret").get("/api/v1/requests/1")
    assert response.status_code == 401
    assert set(response.json()) == {"code", "message", "fields"}


def test_revoked_key_is_refused(organization):
    key = key_for(organization)
    ApiKey.objects.update(revoked_at=timezone.now())
    response = api(key).get("/api/v1/requests/1")
    assert response.status_code == 401
    assert "revoked" in response.json()["message"]


def test_key_without_the_scope_gets_403(organization):
    client = api(key_for(organization, scopes=["tokens:verify"]))
    response = create(client, body())
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    assert "requests:write" in response.json()["message"]


def test_create_request_notifies_the_person_and_returns_items(service):
    response = create(service, body())
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["state"] == "pending" and data["phone"] == PERSON_PHONE
    assert data["items"][0]["samples"][0]["kind"] == "image"
    assert "code" not in data  # the person's link stays the person's
    assert OutboxMessage.objects.filter(to=mask_phone(PERSON_PHONE), channel="sms").count() == 1
    request = ConsentRequest.objects.get()
    assert request.created_by_key is not None


def test_idempotency_key_is_required(service):
    response = service.post("/api/v1/requests", body(), format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "idempotency_key_required"
    assert ConsentRequest.objects.count() == 0


def test_same_key_and_body_replays_the_first_response(service):
    payload = body()
    first = create(service, payload)
    second = create(service, payload)
    assert second.status_code == 201
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true"
    assert ConsentRequest.objects.count() == 1
    assert OutboxMessage.objects.count() == 1


def test_same_key_with_another_body_is_422(service):
    payload = body()
    create(service, payload)
    response = create(service, {**payload, "end_user_reference": "someone else"})
    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"
    assert ConsentRequest.objects.count() == 1


def test_bad_json_is_400_not_500(service):
    response = service.post(
        "/api/v1/requests", data="{not json", content_type="application/json", HTTP_IDEMPOTENCY_KEY="x"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "malformed_request"


def test_field_errors_name_the_field_and_change_nothing(service):
    bad_item = {**body()["items"][0], "modality": "voice"}  # face_swap is not a voice operation; png not audio
    response = create(service, body(items=[bad_item], phone="123"))
    assert response.status_code == 400
    fields = response.json()["fields"]
    assert "phone" in fields
    assert "items[0].operations" in fields
    assert "items[0].samples[0]" in fields
    assert ConsentRequest.objects.count() == 0
    assert IdempotencyRecord.objects.count() == 0


def test_invalid_base64_and_unknown_operation_are_field_errors(service):
    item = {**body()["items"][0], "operations": ["mind_reading"], "samples": [{"name": "x", "content_base64": "%%"}]}
    response = create(service, body(items=[item]))
    assert response.status_code == 400
    fields = response.json()["fields"]
    assert any(name.startswith("items[0].operations") for name in fields), fields


def test_multipart_upload_with_payload_and_files(service):
    payload = body()
    payload["items"][0]["samples"] = []
    voice = {**payload["items"][0], "modality": "voice", "operations": ["voice_cloning"]}
    payload["items"].append(voice)
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = service.post(
        "/api/v1/requests",
        {
            "payload": json.dumps(payload),
            "items[0].samples": SimpleUploadedFile("f.png", png_bytes()),
            "items[1].samples": SimpleUploadedFile("v.wav", wav_bytes()),
        },
        format="multipart",
        HTTP_IDEMPOTENCY_KEY="multi-1",
    )
    assert response.status_code == 201, response.json()
    kinds = [item["samples"][0]["kind"] for item in response.json()["items"]]
    assert kinds == ["image", "audio"]


def test_read_and_cancel_a_request(service):
    request_id = create(service, body()).json()["id"]
    assert service.get(f"/api/v1/requests/{request_id}").json()["state"] == "pending"
    response = service.post(f"/api/v1/requests/{request_id}/cancel")
    assert response.status_code == 200
    assert response.json()["state"] == "cancelled"
    assert response.json()["items"][0]["state"] == "cancelled"
    again = service.post(f"/api/v1/requests/{request_id}/cancel")
    assert again.status_code == 409 and again.json()["code"] == "not_pending"


def test_another_organisations_key_gets_404_everywhere(service, other_organization):
    request_id = create(service, body()).json()["id"]
    outsider = api(key_for(other_organization))
    assert outsider.get(f"/api/v1/requests/{request_id}").status_code == 404
    assert outsider.post(f"/api/v1/requests/{request_id}/cancel").status_code == 404
    assert ConsentRequest.objects.get().state == "pending"


def test_blocked_person_gives_a_clear_409(service, organization):
    from identity.services import person_for_phone

    person = person_for_phone(phone=PERSON_PHONE)
    create(service, body(), key="first")  # only an organisation that asked can be blocked
    services.organization_block(person=person, organization_id=organization.pk)
    response = create(service, body())
    assert response.status_code == 409
    assert response.json()["code"] == "person_blocked_organization"


def test_rate_limit_answers_429_with_retry_after(organization, settings):
    from django.core.cache import cache

    cache.clear()
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"api_key": "3/min"}}
    from rest_framework.settings import api_settings

    api_settings.reload()
    from consent.api.auth import ApiKeyRateThrottle

    ApiKeyRateThrottle.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES
    try:
        client = api(key_for(organization))
        codes = [client.get("/api/v1/requests/999").status_code for _ in range(4)]
        assert codes == [404, 404, 404, 429]
        response = client.get("/api/v1/requests/999")
        assert response.json()["code"] == "rate_limited"
        assert int(response["Retry-After"]) > 0
    finally:
        settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"api_key": "600/min"}}
        api_settings.reload()
        ApiKeyRateThrottle.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES
        cache.clear()


def test_openapi_schema_documents_every_endpoint(client):
    response = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    text = response.content.decode()
    for path in (
        "/api/v1/requests",
        "/api/v1/requests/{request_id}",
        "/api/v1/requests/{request_id}/cancel",
        "/api/v1/consents/{consent_id}",
        "/api/v1/tokens/verify",
        "/api/v1/outputs",
        "/api/v1/provenance",
    ):
        assert path in text
    assert "Idempotency-Key" in text  # the header every create needs is documented


def test_docs_page_uses_local_assets_only(client):
    response = client.get("/api/v1/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "cdn" not in html.lower()
    assert "<script>" not in html
    assert "/static/drf_spectacular_sidecar/" in html


@pytest.mark.realstack
def test_concurrent_duplicates_create_one_request(transactional_db, organization):
    key = key_for(organization)
    results, payload = [], body()

    def post():
        try:
            results.append(create(api(key), payload, key="same").status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [201] * 4
    assert ConsentRequest.objects.count() == 1


def test_cancelling_a_request_reads_it_once(service):
    """The service's scoped, locked look-up is the access check; the view only loads the items to render."""
    request_id = create(service, body()).json()["id"]
    with CaptureQueriesContext(connection) as queries:
        response = service.post(f"/api/v1/requests/{request_id}/cancel")
    assert response.status_code == 200
    assert [item["state"] for item in response.json()["items"]] == ["cancelled"]
    sql = [query["sql"] for query in queries.captured_queries]
    assert len([q for q in sql if q.startswith("SELECT") and 'FROM "consent_consentrequest"' in q]) == 1
    assert len(sql) <= 14


def test_a_retry_answers_with_the_request_as_it_is_now(service):
    payload = body()
    request_id = create(service, payload).json()["id"]
    service.post(f"/api/v1/requests/{request_id}/cancel")
    retry = create(service, payload)
    assert retry.status_code == 201
    assert retry["Idempotent-Replayed"] == "true"
    assert (retry.json()["id"], retry.json()["state"]) == (request_id, "cancelled")
    assert IdempotencyRecord.objects.get().request_id == request_id
