"""The per-process copy of published verification keys (consent.tokens): read once a minute, never past
the key's own publication, emptied by a rotation; and the verify path's queries stay few."""

import hashlib
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from consent import tokens
from consent.builders import build_granted_consent
from consent.models import SigningKey
from tests.consent.conftest import png_bytes

pytestmark = pytest.mark.django_db
FACE_SHA256 = hashlib.sha256(png_bytes()).hexdigest()


@pytest.fixture(autouse=True)
def empty_copy():
    tokens._PUBLIC_KEYS.clear()
    yield
    tokens._PUBLIC_KEYS.clear()


@pytest.fixture
def consent(pat_verified, pending_request):
    return build_granted_consent(person=pat_verified, request=pending_request, position=1)


def verify(consent, *, now=None, token=None):
    return tokens.token_verify(
        token=token or consent.token.value,
        audience_org_id=consent.organization_id,
        modality="face",
        operation="face_swap",
        media_sha256=FACE_SHA256,
        require_media_binding=False,
        now=now,
    )


def key_reads(call) -> int:
    with CaptureQueriesContext(connection) as queries:
        outcome = call()
    assert outcome.active, outcome
    return sum("consent_signingkey" in query["sql"] for query in queries.captured_queries)


def test_the_key_is_read_once_then_kept_for_a_minute(consent):
    now = timezone.now()
    assert key_reads(lambda: verify(consent, now=now)) == 1
    assert key_reads(lambda: verify(consent, now=now + timedelta(seconds=59))) == 0
    assert key_reads(lambda: verify(consent, now=now + timedelta(seconds=61))) == 1


def test_a_clock_before_the_copy_reads_the_key_again(consent):
    now = timezone.now()
    verify(consent, now=now)
    assert key_reads(lambda: verify(consent, now=now - timedelta(seconds=1))) == 1


def test_rotation_empties_the_copy_and_old_and_new_tokens_both_verify(consent, pat_verified, pending_request):
    old_kid = consent.token.kid
    assert verify(consent).active
    assert old_kid in tokens._PUBLIC_KEYS
    new = tokens.signing_key_rotate(actor="test")
    assert tokens._PUBLIC_KEYS == {}
    voice = build_granted_consent(person=pat_verified, request=pending_request, position=2)
    assert voice.token.kid == new.kid
    assert verify(consent).active
    outcome = tokens.token_verify(
        token=voice.token.value,
        audience_org_id=voice.organization_id,
        modality="voice",
        operation="voice_cloning",
        media_sha256=None,
        require_media_binding=False,
    )
    assert outcome.active, outcome


def test_a_copy_never_outlives_the_keys_publication(consent):
    """A retired key whose last token expires in 10 s is kept 10 s + leeway, not the full minute."""
    now = timezone.now()
    key = SigningKey.objects.get(kid=consent.token.kid)
    SigningKey.objects.filter(pk=key.pk).update(
        retired_at=now - timedelta(hours=2), last_token_expires_at=now + timedelta(seconds=10)
    )
    tokens._PUBLIC_KEYS.clear()
    assert tokens._public_key(key.kid, now) is not None
    until = tokens._PUBLIC_KEYS[key.kid][1]
    assert until == now + timedelta(seconds=10 + tokens.LEEWAY)
    # Past it, the database answers again: the key is no longer published, so the token is refused.
    later = now + timedelta(seconds=10 + tokens.LEEWAY + 1)
    assert tokens._public_key(key.kid, later) is None
    assert key.kid not in tokens._PUBLIC_KEYS


def test_an_unknown_kid_is_not_remembered(consent):
    assert tokens._public_key("no-such-kid", timezone.now()) is None
    assert "no-such-kid" not in tokens._PUBLIC_KEYS


def test_revocation_is_still_seen_at_once_with_the_key_in_the_copy(consent):
    from consent.services import consent_revoke

    assert verify(consent).active
    consent_revoke(consent_id=consent.pk, person=consent.person)
    outcome = verify(consent)
    assert not outcome.active
    assert outcome.reason == tokens.VerifyReason.REVOKED


def test_a_verify_call_is_two_statements_once_the_key_is_known(consent, organization):
    """The API key with the consent (live, scoped to the caller) in one read, the presentation's INSERT."""
    from rest_framework.test import APIClient

    from consent import services
    from consent.models import ApiKey, Presentation

    _key, secret = services.api_key_create(
        actor="test", organization=organization, name="v", scopes=[ApiKey.Scope.TOKENS_VERIFY]
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    body = {"token": consent.token.value, "modality": "face", "operation": "face_swap"}
    client.post("/api/v1/tokens/verify", body, format="json")  # records the key's use, reads the signing key
    with CaptureQueriesContext(connection) as queries:
        assert client.post("/api/v1/tokens/verify", body, format="json").json()["active"] is True
    statements = [q["sql"] for q in queries.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))]
    assert len(statements) == 2, statements
    assert "consent_apikey" in statements[0] and "consent_consent" in statements[0]
    assert "c.organization_id = k.organization_id" in statements[0]
    assert statements[1].startswith("INSERT INTO consent_presentation")
    assert Presentation.objects.filter(consent=consent).count() == 2
