"""The Python client's offline Verifier, rule by rule, against a key set and a status list of this test's own.

Tokens are signed here with PyJWT (an independent JOSE implementation), so a rule the Verifier drops
or a header it misreads fails a test below; no database or server is needed.
"""

import base64
import json
import zlib

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from likeness_consent_client import Verifier

BASE = "https://consent.test"
LIST_URI = f"{BASE}/api/v1/status-lists/1"
NOW = 1_800_000_000
KEY = Ed25519PrivateKey.generate()
OTHER_KEY = Ed25519PrivateKey.generate()
MEDIA = "ab" * 32


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def public_jwk(key, kid: str) -> dict:
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {"kty": "OKP", "crv": "Ed25519", "x": b64(raw), "kid": kid, "alg": "EdDSA", "use": "sig"}


def token(*, key=KEY, kid="k1", typ="consent+jwt", alg="EdDSA", **claims) -> str:
    body = {
        "iss": BASE,
        "sub": "pairwise",
        "aud": "7",
        "jti": "jti-1",
        "cid": 1,
        "mod": "face",
        "ops": ["face_swap"],
        "iat": NOW,
        "nbf": NOW,
        "exp": NOW + 3600,
        "media": [MEDIA],
        "status": {"status_list": {"idx": 9, "uri": LIST_URI}},
    }
    body.update(claims)
    return jwt.encode(body, key, algorithm=alg, headers={"typ": typ, "kid": kid})


def status_list(revoked: set[int]) -> str:
    bits = bytearray(16)
    for index in revoked:
        bits[index // 8] |= 1 << (index % 8)
    claims = {
        "sub": LIST_URI,
        "iat": NOW,
        "exp": NOW + 3600,
        "ttl": 300,
        "status_list": {"bits": 1, "lst": b64(zlib.compress(bytes(bits)))},
    }
    return jwt.encode(claims, KEY, algorithm="EdDSA", headers={"typ": "statuslist+jwt", "kid": "k1"})


@pytest.fixture
def served():
    """What the fake service publishes; tests change it, the transport reads it at each fetch."""
    return {"revoked": set(), "list_status": 200, "fetches": 0}


@pytest.fixture
def verifier(served):
    def handler(request: httpx.Request) -> httpx.Response:
        served["fetches"] += 1
        if request.url.path == "/.well-known/jwks.json":
            return httpx.Response(200, json={"keys": [public_jwk(KEY, "k1")]})
        if str(request.url) == LIST_URI:
            return httpx.Response(served["list_status"], text=status_list(served["revoked"]))
        return httpx.Response(404)

    return Verifier(BASE, audience=7, http=httpx.Client(transport=httpx.MockTransport(handler)), clock=lambda: NOW)


def check(verifier, value, **kwargs) -> str:
    args = {"modality": "face", "operation": "face_swap", **kwargs}
    result = verifier.verify(value, **args)
    return "active" if result.active else result.reason


def test_a_good_token_is_active_with_its_claims(verifier):
    result = verifier.verify(token(), modality="face", operation="face_swap", media_sha256=MEDIA.upper())
    assert result.active
    assert result.claims["cid"] == 1


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("not a token", "malformed"),
        ("a.b.c", "malformed"),
        (token(alg="HS256", key="a shared secret that is long enough to be accepted"), "algorithm_not_allowed"),
        (token(typ="JWT"), "wrong_type"),
        (token(kid="nobody"), "unknown_key"),
        (token(key=OTHER_KEY), "bad_signature"),
        (token(exp=NOW - 31), "expired"),
        (token(nbf=NOW + 31), "not_yet_valid"),
        (token(aud="8"), "wrong_audience"),
        (token(mod="voice"), "modality_not_consented"),
        (token(ops=["voice_cloning"]), "operation_not_consented"),
        (jwt.encode({"aud": "7"}, KEY, algorithm="EdDSA", headers={"typ": "consent+jwt", "kid": "k1"}), "malformed"),
    ],
    ids=[
        "no-dots",
        "junk",
        "hs256",
        "typ",
        "kid",
        "signature",
        "exp",
        "nbf",
        "aud",
        "modality",
        "operation",
        "missing-claims",
    ],
)  # fmt: skip
def test_each_rule_refuses_with_its_reason(verifier, value, reason):
    assert check(verifier, value) == reason


def test_within_the_leeway_a_token_is_still_active(verifier):
    assert check(verifier, token(exp=NOW - 29, nbf=NOW + 29)) == "active"


def test_a_tampered_payload_fails_the_signature(verifier):
    header, payload, signature = token().split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["ops"] = ["face_swap", "face_generation"]
    forged = f"{header}.{b64(json.dumps(claims).encode())}.{signature}"
    assert check(verifier, forged, operation="face_generation") == "bad_signature"


def test_media_must_be_among_the_samples_when_given_or_required(verifier):
    assert check(verifier, token(), media_sha256="cd" * 32) == "media_not_bound"
    assert check(verifier, token(), require_media_binding=True) == "media_not_bound"
    assert check(verifier, token(), media_sha256=MEDIA, require_media_binding=True) == "active"


def test_the_status_list_bit_revokes(verifier, served):
    served["revoked"] = {9}
    assert check(verifier, token()) == "revoked"


def test_an_unreachable_status_list_is_not_taken_for_valid(verifier, served):
    served["list_status"] = 503
    assert check(verifier, token()) == "status_unavailable"


def test_keys_and_headers_are_fetched_and_parsed_once_for_many_tokens(verifier, served):
    for _ in range(50):
        assert check(verifier, token()) == "active"
    assert served["fetches"] == 2  # the key set and the status list, each once
    assert len(verifier._headers) == 1


def test_a_flood_of_distinct_headers_does_not_grow_the_cache_without_bound(verifier):
    for i in range(200):
        check(verifier, token(kid=f"unknown-{i}"))
    assert len(verifier._headers) <= 64


def test_the_clock_is_the_verifiers_own(verifier):
    late = Verifier(BASE, audience=7, http=verifier._http, clock=lambda: NOW + 7200)
    assert check(late, token()) == "expired"
