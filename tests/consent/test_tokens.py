"""Consent tokens: issue, the attack suite of verification, status lists, key rotation, public endpoints."""

import base64
import hashlib
import hmac
import json
from datetime import timedelta

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings
from django.core.management import call_command
from jwt import PyJWK

from audit.models import AuditEvent
from consent import services, statuslist, tokens
from consent.builders import build_granted_consent
from consent.models import Consent, ConsentToken, SigningKey, StatusList
from identity.crypto import decrypt
from tests.consent.conftest import png_bytes, request_input, wav_bytes

# The endpoints are tested on their own URL module (config/urls.py includes it at "").
pytestmark = [pytest.mark.django_db, pytest.mark.urls("consent.public.token_urls")]

FACE_SHA256 = hashlib.sha256(png_bytes()).hexdigest()
VOICE_SHA256 = hashlib.sha256(wav_bytes()).hexdigest()


# ---- fixtures and helpers -----------------------------------------------------------------------


@pytest.fixture
def person(pat_verified):
    return pat_verified


def grant(person, request, position=1) -> Consent:
    return build_granted_consent(person=person, request=request, position=position)


@pytest.fixture
def face_consent(person, pending_request) -> Consent:
    return grant(person, pending_request, position=1)


@pytest.fixture
def other_org_consent(person, other_organization, other_operator) -> Consent:
    request = services.request_create(actor=other_operator, organization=other_organization, data=request_input())
    return grant(person, request, position=1)


def verify(consent, token=None, **overrides):
    arguments = {
        "token": consent.token.value if token is None else token,
        "audience_org_id": consent.organization_id,
        "audience_public_id": str(consent.organization.public_id),  # as the API passes it, from the key's row
        "modality": "face",
        "operation": "face_swap",
        "media_sha256": FACE_SHA256,
        "require_media_binding": False,
    } | overrides
    return tokens.token_verify(**arguments)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def parts(token: str) -> tuple[dict, dict]:
    header, payload, _ = token.split(".")
    return json.loads(base64.urlsafe_b64decode(header + "==")), json.loads(base64.urlsafe_b64decode(payload + "=="))


def sign(header: dict, claims, key: Ed25519PrivateKey) -> str:
    """An independent JWS signer (no JOSE library), so forgeries are exactly what the test says."""
    payload = claims if isinstance(claims, bytes) else json.dumps(claims).encode()
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(payload)}"
    return f"{signing_input}.{b64(key.sign(signing_input.encode()))}"


def our_private_key(kid: str) -> Ed25519PrivateKey:
    pem = decrypt(SigningKey.objects.get(kid=kid).private_key_enc, context="signing_key")
    return serialization.load_pem_private_key(pem.encode(), password=None)


def public_jwk(kid: str) -> dict:
    return next(key for key in tokens.jwks()["keys"] if key["kid"] == kid)


def status_bit(client, consent) -> int:
    """Fetch the consent's status list as an offline verifier would, check it, return the token's bit."""
    status = parts(consent.token.value)[1]["status"]["status_list"]
    response = client.get(status["uri"].removeprefix(settings.SITE_URL))
    assert response.status_code == 200
    header = jwt.get_unverified_header(response.content)
    assert header["typ"] == "statuslist+jwt"
    claims = jwt.decode(response.content, PyJWK(public_jwk(header["kid"])).key, algorithms=["EdDSA"])
    assert claims["sub"] == status["uri"]
    assert claims["status_list"]["bits"] == 1
    bits = statuslist.lst_decode(claims["status_list"]["lst"])
    assert len(bits) * 8 >= 131072
    return (bits[status["idx"] // 8] >> (status["idx"] % 8)) & 1


# ---- issue --------------------------------------------------------------------------------------


def test_grant_issues_an_eddsa_consent_jwt_with_the_documented_claims(face_consent):
    token = ConsentToken.objects.get(consent=face_consent)
    header, claims = parts(token.value)
    assert header == {"alg": "EdDSA", "typ": "consent+jwt", "kid": token.kid}
    assert claims["iss"] == settings.SITE_URL
    assert claims["aud"] == str(face_consent.organization.public_id)
    assert claims["cid"] == face_consent.pk
    assert (claims["mod"], claims["ops"]) == ("face", ["face_swap"])
    assert claims["media"] == [FACE_SHA256]
    assert claims["exp"] == int(face_consent.valid_until.timestamp())
    assert claims["nbf"] == claims["iat"] == int(token.issued_at.timestamp())
    assert claims["jti"] == token.jti and token.expires_at == face_consent.valid_until
    assert claims["status"] == {
        "status_list": {
            "idx": token.status_index,
            "uri": f"{settings.SITE_URL}/api/v1/status-lists/{token.status_list.number}",
        }
    }
    assert len(claims["sub"]) == 64 and int(claims["sub"], 16)  # a keyed hash, not the person's id


def test_subject_is_pairwise_stable_per_organisation_unlinkable_across(face_consent, other_org_consent):
    ours, theirs = parts(face_consent.token.value)[1], parts(other_org_consent.token.value)[1]
    assert ours["sub"] != theirs["sub"]
    assert ours["sub"] == tokens.pairwise_subject(
        organization_id=face_consent.organization_id, person_id=face_consent.person_id
    )


def test_signing_key_is_created_once_stored_encrypted_and_published_without_private_part(face_consent):
    key = SigningKey.objects.get()
    assert face_consent.token.kid == key.kid
    assert "PRIVATE KEY" not in key.private_key_enc
    assert "PRIVATE KEY" in decrypt(key.private_key_enc, context="signing_key")
    assert tokens.signing_key_current() == key
    assert key.last_token_expires_at == face_consent.valid_until
    published = tokens.jwks()["keys"]
    assert published == [key.public_jwk]
    assert set(published[0]) == {"kty", "crv", "x", "kid", "alg", "use"}
    assert (published[0]["kty"], published[0]["crv"], published[0]["alg"]) == ("OKP", "Ed25519", "EdDSA")
    assert AuditEvent.objects.filter(action="signing_key.create", data__kid=key.kid).count() == 1


def test_token_verifies_with_pyjwt_from_the_jwks_alone(client, face_consent):
    response = client.get("/.well-known/jwks.json")
    kid = jwt.get_unverified_header(face_consent.token.value)["kid"]
    jwk = next(key for key in response.json()["keys"] if key["kid"] == kid)
    claims = jwt.decode(
        face_consent.token.value,
        key=PyJWK(jwk).key,
        algorithms=["EdDSA"],
        audience=str(face_consent.organization.public_id),
        issuer=settings.SITE_URL,
    )
    assert claims["cid"] == face_consent.pk


# ---- verification: accepted -----------------------------------------------------------------------


def test_active_token_with_a_consented_use_is_accepted(face_consent):
    outcome = verify(face_consent, require_media_binding=True)
    assert outcome == tokens.VerifyOutcome(
        active=True, reason="", claims=parts(face_consent.token.value)[1], consent=face_consent, audience_matches=True
    )


def test_media_hash_is_optional_without_binding_and_case_insensitive(face_consent):
    assert verify(face_consent, media_sha256=None).active
    assert verify(face_consent, media_sha256=FACE_SHA256.upper()).active


def test_fully_specified_ed25519_algorithm_name_is_accepted_too(face_consent):
    header, claims = parts(face_consent.token.value)
    token = sign({**header, "alg": "Ed25519"}, claims, our_private_key(header["kid"]))
    assert verify(face_consent, token=token).active


def test_a_token_issued_with_the_numeric_audience_still_verifies(face_consent, other_organization):
    # Tokens issued before `aud` became the organisation's public identifier carry its database id.
    header, claims = parts(face_consent.token.value)
    legacy = sign(header, {**claims, "aud": str(face_consent.organization_id)}, our_private_key(header["kid"]))
    assert verify(face_consent, token=legacy).active
    assert verify(face_consent, token=legacy, audience_public_id=None).active  # looked up when not given
    outsider = verify(face_consent, token=legacy, audience_org_id=other_organization.pk, audience_public_id=None)
    assert (outsider.active, outsider.reason) == (False, "wrong_audience")


def test_the_audience_is_the_public_identifier_not_the_database_id(face_consent, other_organization):
    header, claims = parts(face_consent.token.value)
    assert claims["aud"] == str(face_consent.organization.public_id) != str(face_consent.organization_id)
    # Another organisation's public identifier does not open this organisation's consent.
    foreign = sign(header, {**claims, "aud": str(other_organization.public_id)}, our_private_key(header["kid"]))
    assert verify(face_consent, token=foreign).reason == "wrong_audience"
    assert verify(face_consent, audience_public_id=None).active  # the public identifier looked up


# ---- verification: the attack suite --------------------------------------------------------------


def test_alg_none_is_refused(face_consent):
    header, claims = parts(face_consent.token.value)
    token = f"{b64(json.dumps({**header, 'alg': 'none'}).encode())}.{b64(json.dumps(claims).encode())}."
    outcome = verify(face_consent, token=token)
    assert (outcome.active, outcome.reason, outcome.claims) == (False, "algorithm_not_allowed", None)


def test_hs256_signed_with_the_public_key_as_hmac_secret_is_refused(face_consent):
    header, claims = parts(face_consent.token.value)
    public = public_jwk(header["kid"])
    for secret in (base64.urlsafe_b64decode(public["x"] + "="), json.dumps(public).encode(), public["x"].encode()):
        signing_input = f"{b64(json.dumps({**header, 'alg': 'HS256'}).encode())}.{b64(json.dumps(claims).encode())}"
        signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        outcome = verify(face_consent, token=f"{signing_input}.{b64(signature)}")
        assert (outcome.active, outcome.reason) == (False, "algorithm_not_allowed")


def test_other_asymmetric_algorithms_are_refused(face_consent):
    header = parts(face_consent.token.value)[0]
    for alg in ("ES256", "RS256", "Ed448", "EDDSA", "eddsa"):
        token = f"{b64(json.dumps({**header, 'alg': alg}).encode())}.{face_consent.token.value.split('.', 1)[1]}"
        assert verify(face_consent, token=token).reason == "algorithm_not_allowed"


def test_unknown_kid_is_refused(face_consent):
    header, claims = parts(face_consent.token.value)
    token = sign({**header, "kid": "not-ours"}, claims, Ed25519PrivateKey.generate())
    assert verify(face_consent, token=token).reason == "unknown_key"
    no_kid = sign({"alg": "EdDSA", "typ": "consent+jwt"}, claims, Ed25519PrivateKey.generate())
    assert verify(face_consent, token=no_kid).reason == "unknown_key"


def test_attackers_key_claiming_our_kid_fails_the_signature(face_consent):
    header, claims = parts(face_consent.token.value)
    token = sign(header, claims, Ed25519PrivateKey.generate())
    outcome = verify(face_consent, token=token)
    assert (outcome.reason, outcome.claims, outcome.audience_matches) == ("bad_signature", None, False)


def test_tampered_payload_fails_the_signature(face_consent):
    header_b64, _, signature = face_consent.token.value.split(".")
    claims = parts(face_consent.token.value)[1] | {"ops": ["face_swap", "face_generation"]}
    token = f"{header_b64}.{b64(json.dumps(claims).encode())}.{signature}"
    assert verify(face_consent, token=token, operation="face_generation").reason == "bad_signature"


def test_wrong_typ_is_refused(face_consent):
    header, claims = parts(face_consent.token.value)
    for typ in ("JWT", "statuslist+jwt", None):
        token = sign(
            {**header, "typ": typ} if typ else {"alg": "EdDSA", "kid": header["kid"]},
            claims,
            our_private_key(header["kid"]),
        )
        assert verify(face_consent, token=token).reason == "wrong_type"


def test_status_list_token_is_not_accepted_as_a_consent_token(client, face_consent):
    status = parts(face_consent.token.value)[1]["status"]["status_list"]
    list_token = client.get(status["uri"].removeprefix(settings.SITE_URL)).content.decode()
    assert verify(face_consent, token=list_token).reason == "wrong_type"


def test_expired_token_is_refused_after_the_leeway(face_consent):
    exp = face_consent.valid_until
    assert verify(face_consent, now=exp + timedelta(seconds=tokens.LEEWAY - 1)).active
    outcome = verify(face_consent, now=exp + timedelta(seconds=tokens.LEEWAY + 1))
    assert (outcome.active, outcome.reason, outcome.audience_matches) == (False, "expired", True)


def test_not_yet_valid_is_refused_but_within_leeway_accepted(face_consent):
    issued = face_consent.token.issued_at
    assert verify(face_consent, now=issued - timedelta(seconds=tokens.LEEWAY - 1)).active
    assert verify(face_consent, now=issued - timedelta(seconds=tokens.LEEWAY + 1)).reason == "not_yet_valid"


def test_wrong_audience_is_refused_and_reveals_nothing_of_the_consent(face_consent, other_organization):
    outcome = verify(
        face_consent, audience_org_id=other_organization.pk, audience_public_id=str(other_organization.public_id)
    )
    assert (outcome.active, outcome.reason, outcome.audience_matches, outcome.consent) == (
        False,
        "wrong_audience",
        False,
        None,
    )


def test_another_organisations_token_is_refused_to_us(face_consent, other_org_consent):
    outcome = verify(
        other_org_consent,
        audience_org_id=face_consent.organization_id,
        audience_public_id=str(face_consent.organization.public_id),
    )
    assert (outcome.reason, outcome.audience_matches) == ("wrong_audience", False)
    assert verify(other_org_consent).active  # its own audience may use it


def test_revocation_is_effective_at_once(face_consent, person):
    assert verify(face_consent).active
    services.consent_revoke(person=person, consent_id=face_consent.pk)
    outcome = verify(face_consent)
    assert (outcome.active, outcome.reason, outcome.consent) == (False, "revoked", face_consent)


def test_expired_consent_is_refused(face_consent):
    services.consents_expire(now=face_consent.valid_until + timedelta(seconds=1))
    assert Consent.objects.get(pk=face_consent.pk).state == Consent.State.EXPIRED
    assert verify(face_consent).reason == "expired"


def test_other_modality_or_operation_is_refused(face_consent):
    assert verify(face_consent, modality="voice", operation="voice_cloning").reason == "modality_not_consented"
    assert verify(face_consent, operation="face_generation").reason == "operation_not_consented"
    assert verify(face_consent, operation="voice_cloning").reason == "operation_not_consented"


def test_media_not_among_the_samples_is_refused(face_consent):
    assert verify(face_consent, media_sha256=VOICE_SHA256).reason == "media_not_bound"
    assert verify(face_consent, media_sha256="0" * 64, require_media_binding=False).reason == "media_not_bound"
    assert verify(face_consent, media_sha256=None, require_media_binding=True).reason == "media_not_bound"
    assert verify(face_consent, media_sha256="", require_media_binding=True).reason == "media_not_bound"


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        ("", "malformed"),
        ("abc", "malformed"),
        ("a.b", "malformed"),
        ("a.b.c.d", "malformed"),
        ("a.b.c", "malformed"),
        ("....", "malformed"),
        ("é.é.é", "malformed"),
        (b64(b"[1,2]") + ".e30.", "malformed"),
        (b64(b"null") + ".e30.", "malformed"),
        (b64(b"[" * 5000) + ".e30.", "malformed"),
        (b64(b'{"alg": "EdDSA", "typ": "consent+jwt", "kid": {"$ne": 1}}') + ".e30.", "unknown_key"),
        (b64(b'{"alg": ["EdDSA"], "typ": "consent+jwt"}') + ".e30.", "algorithm_not_allowed"),
        (None, "malformed"),
        (12345, "malformed"),
        ("x" * 20000, "malformed"),
    ],
)
def test_garbage_is_refused_never_raised(face_consent, token, reason):
    outcome = tokens.token_verify(
        token=token,
        audience_org_id=face_consent.organization_id,
        modality="face",
        operation="face_swap",
        media_sha256=None,
        require_media_binding=False,
    )
    assert (outcome.active, outcome.reason, outcome.claims) == (False, reason, None)


def test_our_kid_with_a_garbled_signature_or_payload_is_refused(face_consent):
    header_b64, payload_b64, signature = face_consent.token.value.split(".")
    assert verify(face_consent, token=f"{header_b64}.{payload_b64}.{signature[::-1]}").reason == "bad_signature"
    assert verify(face_consent, token=f"{header_b64}.{payload_b64}.").reason == "bad_signature"
    assert verify(face_consent, token=f"{header_b64}.!!!.{signature}").reason == "malformed"


def test_keys_offered_in_the_header_are_ignored(face_consent):
    header, claims = parts(face_consent.token.value)
    attacker = Ed25519PrivateKey.generate()
    raw = attacker.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    embedded = {"kty": "OKP", "crv": "Ed25519", "x": b64(raw)}
    for extra in ({"jwk": embedded}, {"jku": "https://attacker.test/jwks.json"}):
        assert verify(face_consent, token=sign({**header, **extra}, claims, attacker)).reason == "bad_signature"
        forged = sign({**header, **extra, "kid": "attacker"}, claims, attacker)
        assert verify(face_consent, token=forged).reason == "unknown_key"


def test_signed_payload_that_is_not_an_object_is_malformed(face_consent):
    header = parts(face_consent.token.value)[0]
    key = our_private_key(header["kid"])
    token = sign(header, b"[1]", key)
    assert verify(face_consent, token=token).reason == "malformed"


def test_verification_takes_two_queries(face_consent, django_assert_num_queries):
    with django_assert_num_queries(2):
        assert verify(face_consent).active


# ---- status lists ---------------------------------------------------------------------------------


def test_revocation_flips_the_status_list_bit(client, face_consent, person):
    assert status_bit(client, face_consent) == 0
    cached = StatusList.objects.get().token
    assert cached and status_bit(client, face_consent) == 0
    assert StatusList.objects.get().token == cached  # served from the cache, not re-signed
    services.consent_revoke(person=person, consent_id=face_consent.pk)
    assert StatusList.objects.get().token == ""  # stale cache dropped in the revoke transaction
    assert status_bit(client, face_consent) == 1
    token = ConsentToken.objects.get(consent=face_consent)
    assert statuslist.bit_get(bytes(token.status_list.bits), token.status_index) == 1
    assert sum(bin(byte).count("1") for byte in bytes(token.status_list.bits)) == 1


def test_expiry_flips_the_status_list_bit_too(face_consent):
    services.consents_expire(now=face_consent.valid_until + timedelta(seconds=1))
    token = ConsentToken.objects.get(consent=face_consent)
    assert statuslist.bit_get(bytes(token.status_list.bits), token.status_index) == 1


def test_status_list_endpoint_headers_and_unknown_list(client, face_consent):
    number = face_consent.token.status_list.number
    response = client.get(f"/api/v1/status-lists/{number}")
    assert response["Content-Type"] == "application/statuslist+jwt"
    assert "max-age=300" in response["Cache-Control"] and "public" in response["Cache-Control"]
    claims = jwt.decode(response.content, options={"verify_signature": False})
    assert claims["ttl"] == 300 and claims["exp"] > claims["iat"]
    assert client.get(f"/api/v1/status-lists/{number + 1}").status_code == 404
    assert client.post(f"/api/v1/status-lists/{number}").status_code == 405


def test_cached_status_list_token_is_re_signed_before_it_could_expire_in_a_cache(face_consent):
    number = face_consent.token.status_list.number
    first = tokens.status_list_token(number)
    issued = StatusList.objects.get().token_issued_at
    assert tokens.status_list_token(number, now=issued + timedelta(minutes=10)) == first
    later = issued + statuslist.STATUS_LIST_LIFETIME - timedelta(seconds=statuslist.STATUS_LIST_TTL - 1)
    assert tokens.status_list_token(number, now=later) != first


def test_status_indices_are_random_in_a_list_of_herd_size(face_consent, person, pending_request):
    voice = grant(person, pending_request, position=2)
    first, second = face_consent.token, ConsentToken.objects.get(consent=voice)
    assert first.status_list_id == second.status_list_id
    assert first.status_list.size >= 131072 and StatusList.objects.get().allocated == 2
    indices = [statuslist.status_slot_allocate()[1] for _ in range(30)]
    # Sequential allocation would give 2, 3, 4...; 30 random draws spread over most of the list.
    assert max(indices) - min(indices) > 131072 // 2
    assert indices != sorted(indices)


def test_full_list_is_left_for_a_new_one_and_slots_are_used_once(person, pending_request):
    StatusList.objects.create(number=1, size=2, bits=bytes(1))
    face = grant(person, pending_request, position=1)
    voice = grant(person, pending_request, position=2)
    assert {face.token.status_index, voice.token.status_index} == {0, 1}
    assert StatusList.objects.get(number=1).allocated == 2
    list_, _index = statuslist.status_slot_allocate()
    assert (list_.number, list_.size) == (2, 131072)


# ---- rotation -------------------------------------------------------------------------------------


def test_rotation_signs_new_tokens_and_keeps_the_old_key_until_its_last_token_expires(
    face_consent, person, pending_request, operator
):
    old_kid = face_consent.token.kid
    new = tokens.signing_key_rotate(actor=operator)
    assert new.kid != old_kid
    voice = grant(person, pending_request, position=2)
    assert voice.token.kid == new.kid
    assert parts(voice.token.value)[0]["kid"] == new.kid
    assert [key["kid"] for key in tokens.jwks()["keys"]] == [new.kid, old_kid]
    assert verify(face_consent).active  # tokens of the retired key still verify
    after_last = face_consent.valid_until + timedelta(seconds=tokens.LEEWAY + 1)
    assert [key["kid"] for key in tokens.jwks(now=after_last)["keys"]] == [new.kid]
    event = AuditEvent.objects.get(action="signing_key.rotate")
    assert event.data == {"kid": new.kid, "retired": [old_kid]}


def test_retired_key_without_tokens_is_dropped_once_its_status_lists_expire(db):
    first = tokens.signing_key_current()
    tokens.signing_key_rotate(actor="test")
    retired = SigningKey.objects.get(pk=first.pk).retired_at
    assert first.kid in {key["kid"] for key in tokens.jwks(now=retired + timedelta(minutes=30))["keys"]}
    later = retired + statuslist.STATUS_LIST_LIFETIME + timedelta(minutes=1)
    assert first.kid not in {key["kid"] for key in tokens.jwks(now=later)["keys"]}


def test_rotation_re_signs_cached_status_lists_with_the_new_key(face_consent):
    number = face_consent.token.status_list.number
    assert jwt.get_unverified_header(tokens.status_list_token(number))["kid"] == face_consent.token.kid
    new = tokens.signing_key_rotate(actor="test")
    assert jwt.get_unverified_header(tokens.status_list_token(number))["kid"] == new.kid


def test_rotate_signing_key_command(face_consent, capsys):
    call_command("rotate_signing_key")
    active = SigningKey.objects.get(retired_at__isnull=True)
    output = capsys.readouterr().out
    assert active.kid in output and face_consent.token.kid in output
    assert AuditEvent.objects.get(action="signing_key.rotate").actor_label == "rotate_signing_key"


# ---- JWKS endpoint --------------------------------------------------------------------------------


def test_jwks_endpoint_is_cacheable_with_an_etag(client, face_consent):
    response = client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/jwk-set+json"
    assert "public" in response["Cache-Control"] and "max-age=300" in response["Cache-Control"]
    assert response["Access-Control-Allow-Origin"] == "*"
    etag = response["ETag"]
    assert response.json() == tokens.jwks()
    assert "d" not in response.json()["keys"][0]
    not_modified = client.get("/.well-known/jwks.json", HTTP_IF_NONE_MATCH=etag)
    assert not_modified.status_code == 304 and not_modified["ETag"] == etag
    tokens.signing_key_rotate(actor="test")
    changed = client.get("/.well-known/jwks.json", HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200 and changed["ETag"] != etag


# ---- concurrency (PostgreSQL) ---------------------------------------------------------------------


def _in_threads(count: int, work) -> list:
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    def run(_):
        try:
            return work()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))


@pytest.mark.realstack
def test_concurrent_first_use_creates_one_signing_key(transactional_db):
    kids = _in_threads(8, lambda: tokens.signing_key_current().kid)
    assert SigningKey.objects.count() == 1 and set(kids) == {SigningKey.objects.get().kid}


@pytest.mark.realstack
def test_concurrent_allocations_share_one_new_list_and_never_lose_a_count(transactional_db):
    from django.db import transaction

    def allocate():
        with transaction.atomic():
            status_list, index = statuslist.status_slot_allocate()
            return status_list.number, index

    results = _in_threads(8, allocate)
    assert {number for number, _index in results} == {1}
    assert StatusList.objects.get().allocated == 8
