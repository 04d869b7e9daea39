"""The Python client in clients/python against the real application (WSGI transport, no mocks)."""

from datetime import timedelta

import httpx
import pytest
import time_machine
from django.core.handlers.wsgi import WSGIHandler
from django.utils import timezone
from likeness_consent_client import ApiError, ConsentClient, Verifier

from consent import services
from consent.builders import build_granted_consent
from consent.models import ApiKey
from tests.consent.conftest import request_input

pytestmark = pytest.mark.django_db
BASE = "http://127.0.0.1:8000"  # = SITE_URL, the origin the tokens name for their status lists


def transport():
    return httpx.WSGITransport(app=WSGIHandler())


@pytest.fixture(autouse=True)
def _keep_the_test_transaction():
    """As Django's test client does: a request must not close the connection holding the test's transaction."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def api_key(organization):
    return services.api_key_create(actor="test", organization=organization, name="c", scopes=list(ApiKey.Scope.values))[
        1
    ]


@pytest.fixture
def consent(pat_verified, pending_request):
    return build_granted_consent(person=pat_verified, request=pending_request)


def test_client_creates_reads_and_cancels_requests(api_key):
    payload = {
        **{k: v for k, v in request_input().__dict__.items() if k not in ("items", "end_user_verified_at")},
        "end_user_verified_at": timezone.now().isoformat(),
        "items": [
            {
                "modality": "voice",
                "operations": ["speech_synthesis"],
                "purpose": "Audiobook",
                "usage": "App",
                "valid_until": (timezone.localdate() + timedelta(days=30)).isoformat(),
                "samples": [],
            }
        ],
    }
    with ConsentClient(BASE, api_key, transport=transport()) as api:
        with pytest.raises(ApiError) as error:
            api.create_request(payload, idempotency_key="a-1")  # no sample: refused, per field
        assert error.value.status == 400 and "items[0].samples" in error.value.fields
        import base64

        from consent.demo_media import demo_wav

        payload["items"][0]["samples"] = [{"name": "v.wav", "content_base64": base64.b64encode(demo_wav()).decode()}]
        created = api.create_request(payload, idempotency_key="a-2")
        assert api.create_request(payload, idempotency_key="a-2") == created  # a retry is the same request
        assert api.get_request(created["id"])["state"] == "pending"
        assert api.cancel_request(created["id"])["state"] == "cancelled"


def test_online_and_offline_verification_see_revocation(api_key, consent, organization):
    token = consent.token.value
    with ConsentClient(BASE, api_key, transport=transport()) as api:
        assert api.get_consent(consent.pk)["token"] == token
        assert api.verify_token(token, modality="face", operation="face_swap")["active"] is True
        http = httpx.Client(transport=transport())
        now = [timezone.now().timestamp()]
        verifier = Verifier(BASE, audience=organization.public_id, http=http, clock=lambda: now[0])
        assert verifier.verify(token, modality="face", operation="face_swap").active
        assert (
            verifier.verify(token, modality="face", operation="pose_manipulation").reason == "operation_not_consented"
        )
        assert verifier.verify(token, modality="voice", operation="face_swap").reason == "modality_not_consented"
        assert Verifier(BASE, audience=999, http=http).verify(token, modality="face", operation="face_swap").reason == (
            "wrong_audience"
        )
        # The numeric id is not the audience of new tokens; listing both also accepts tokens issued before.
        numeric = Verifier(BASE, audience=organization.pk, http=http, clock=lambda: now[0])
        assert numeric.verify(token, modality="face", operation="face_swap").reason == "wrong_audience"
        both = Verifier(BASE, audience=[organization.public_id, organization.pk], http=http, clock=lambda: now[0])
        assert both.verify(token, modality="face", operation="face_swap").active

        services.consent_revoke(person=consent.person, consent_id=consent.pk)
        assert api.verify_token(token, modality="face", operation="face_swap") == {"active": False, "reason": "revoked"}
        # Offline: the cached status list is still fresh, so the verifier cannot know yet …
        assert verifier.verify(token, modality="face", operation="face_swap").active
        # … and sees the revocation once the list's ttl has passed and it is fetched again.
        now[0] += 301
        with time_machine.travel(timezone.now() + timedelta(seconds=301)):
            result = verifier.verify(token, modality="face", operation="face_swap")
        assert (result.active, result.reason) == (False, "revoked")


def test_offline_verifier_refuses_a_tampered_token(consent, organization):
    header, payload, signature = consent.token.value.split(".")
    tampered = f"{header}.{payload[:-2]}AA.{signature}"
    verifier = Verifier(BASE, audience=organization.public_id, http=httpx.Client(transport=transport()))
    assert not verifier.verify(tampered, modality="face", operation="face_swap").active


def test_verify_endpoint_stays_within_a_fixed_number_of_queries(api_key, consent, django_assert_max_num_queries):
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key}")
    body = {"token": consent.token.value, "modality": "face", "operation": "face_swap"}
    client.post("/api/v1/tokens/verify", body, format="json")  # the key's last use is now recorded
    # key lookup, token's signing key and consent, presentation insert (plus savepoint bookkeeping)
    with django_assert_max_num_queries(6):
        assert client.post("/api/v1/tokens/verify", body, format="json").json()["active"] is True
