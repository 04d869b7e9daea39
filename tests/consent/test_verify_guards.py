"""The verify endpoint's guards: every call leaves exactly one presentation row with its result and reason
(Provisions Art. 10), a verifier of another organisation learns nothing but `{"active": false}` (RFC 7662
§2.2), and a validly signed token never reaches a consent of an organisation other than its audience."""

import base64
import hashlib
import json
import secrets
from datetime import timedelta

import pytest
import time_machine
from rest_framework.test import APIClient

from consent import services
from consent.builders import build_granted_consent
from consent.models import ApiKey, Consent, Presentation
from tests.consent.conftest import png_bytes
from tests.consent.test_tokens import b64, our_private_key, sign

pytestmark = pytest.mark.django_db

FACE_SHA256 = hashlib.sha256(png_bytes()).hexdigest()


@pytest.fixture
def consent(pat_verified, pending_request) -> Consent:
    return build_granted_consent(person=pat_verified, request=pending_request)


def service(organization) -> tuple[APIClient, ApiKey]:
    key, value = services.api_key_create(
        actor="test", organization=organization, name="svc", scopes=[ApiKey.Scope.TOKENS_VERIFY]
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {value}")
    return client, key


def present(client, token, operation="face_swap", media=""):
    response = client.post(
        "/api/v1/tokens/verify",
        {"token": token, "modality": "face", "operation": operation, "media_sha256": media},
        format="json",
    )
    assert response.status_code == 200, response.content
    return response.json()


def unb64(segment: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def bad_signature(token: str) -> str:
    header, payload, signature = token.split(".")
    claims = unb64(payload) | {"ops": ["face_swap", "face_generation"]}
    return f"{header}.{b64(json.dumps(claims).encode())}.{signature}"


def unknown_kid(token: str) -> str:
    header, payload, signature = token.split(".")
    return f"{b64(json.dumps(unb64(header) | {'kid': 'not-one-of-ours'}).encode())}.{payload}.{signature}"


def revoked(consent: Consent) -> str:
    services.consent_revoke(person=consent.person, consent_id=consent.pk)
    return consent.token.value


# outcome -> (how to make the presented token, operation, media, reason, linked to the consent)
INACTIVE = {
    "revoked": (revoked, "face_swap", "", "revoked", True),
    "operation": (lambda c: c.token.value, "attribute_editing", "", "operation_not_consented", True),
    "media": (lambda c: c.token.value, "face_swap", "0" * 64, "media_not_bound", True),
    "bad_signature": (lambda c: bad_signature(c.token.value), "face_swap", "", "bad_signature", False),
    "unknown_kid": (lambda c: unknown_kid(c.token.value), "face_swap", "", "unknown_key", False),
    "malformed": (lambda c: "not-a-token", "face_swap", "", "malformed", False),
}


def test_an_active_verify_call_writes_one_presentation_linked_to_the_consent(organization, consent):
    client, key = service(organization)
    before = Presentation.objects.count()

    body = present(client, consent.token.value, operation="face_swap", media=FACE_SHA256)

    assert body["active"] is True
    assert Presentation.objects.count() == before + 1
    row = Presentation.objects.latest("id")
    assert (row.result, row.reason) == ("active", "")
    assert (row.organization_id, row.api_key_id, row.operation) == (organization.pk, key.pk, "face_swap")
    assert row.consent_id == consent.pk


@pytest.mark.parametrize("outcome", sorted(INACTIVE))
def test_every_inactive_verify_call_writes_one_presentation_with_its_reason(outcome, organization, consent):
    make_token, operation, media, reason, linked = INACTIVE[outcome]
    client, key = service(organization)
    token = make_token(consent)
    before = Presentation.objects.count()

    body = present(client, token, operation=operation, media=media)

    assert Presentation.objects.count() == before + 1
    row = Presentation.objects.latest("id")
    assert (row.result, row.reason) == ("inactive", reason)
    assert (row.organization_id, row.api_key_id, row.operation) == (organization.pk, key.pk, operation)
    assert row.consent_id == (consent.pk if linked else None)
    # The token's own audience may see why, for a token it can be linked to; nobody sees more than that.
    assert body == ({"active": False, "reason": reason} if linked else {"active": False})


def test_an_expired_token_is_logged_as_expired(organization, consent):
    client, key = service(organization)
    with time_machine.travel(consent.valid_until + timedelta(days=1)):
        body = present(client, consent.token.value)
    assert body == {"active": False, "reason": "expired"}
    row = Presentation.objects.get()
    assert (row.result, row.reason, row.api_key_id) == ("inactive", "expired", key.pk)


FOREIGN = {
    "active": (lambda c: c.token.value, "wrong_audience"),
    "revoked": (revoked, "wrong_audience"),
    "operation": (lambda c: c.token.value, "wrong_audience"),
}


@pytest.mark.parametrize("state", sorted(FOREIGN))
def test_a_verifier_of_another_organisation_gets_exactly_active_false(state, consent, other_organization):
    make_token, reason = FOREIGN[state]
    client, key = service(other_organization)
    token = make_token(consent)

    body = present(client, token, operation="attribute_editing" if state == "operation" else "face_swap")

    assert body == {"active": False}
    row = Presentation.objects.get()
    assert (row.organization_id, row.api_key_id, row.result, row.reason) == (
        other_organization.pk,
        key.pk,
        "inactive",
        reason,
    )
    assert row.consent_id is None  # nothing of the consent is tied to the other organisation's log


def test_another_organisation_learns_nothing_from_an_expired_token(consent, other_organization):
    client, _key = service(other_organization)
    with time_machine.travel(consent.valid_until + timedelta(days=1)):
        assert present(client, consent.token.value) == {"active": False}
    assert Presentation.objects.get().consent_id is None


def test_a_signed_token_naming_another_organisations_consent_finds_nothing(consent, other_organization):
    # Only the platform's key can sign this; the consent lookup must still be scoped to the audience.
    header, claims = unb64(consent.token.value.split(".")[0]), unb64(consent.token.value.split(".")[1])
    claims |= {"aud": str(other_organization.public_id), "jti": secrets.token_urlsafe(24)}
    token = sign(header, claims, our_private_key(header["kid"]))
    client, _key = service(other_organization)

    body = present(client, token)

    assert body == {"active": False, "reason": "unknown_consent"}
    row = Presentation.objects.get()
    assert (row.reason, row.consent_id) == ("unknown_consent", None)
