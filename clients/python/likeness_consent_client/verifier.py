"""Offline verification of consent tokens: JWKS and Token Status Lists fetched and cached, rules as the server's.

The server's online verify endpoint is authoritative (revocation is effective there at once); offline
verification sees a revocation once the cached status list expires (its `ttl`).
"""

import base64
import time
import zlib
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx
import jwt
from jwt import PyJWK

LEEWAY = 30
ALGORITHMS = ["EdDSA"]


@dataclass
class VerifyResult:
    active: bool
    reason: str = ""
    claims: dict = field(default_factory=dict)


class Verifier:
    def __init__(self, base_url: str, *, audience, http: httpx.Client | None = None, clock=time.time):
        """`audience`: your organisation's public identifier (back-office, Organisation profile). Tokens
        issued before it carry the organisation's numeric id: pass both, as a list, to accept those too."""
        self.base_url = base_url.rstrip("/")
        self.audience = [str(a) for a in audience] if isinstance(audience, list | tuple) else str(audience)
        self._http = http or httpx.Client(timeout=10.0)
        self._clock = clock
        self._jwks: dict[str, PyJWK] = {}
        self._jwks_expires = 0.0
        self._lists: dict[str, tuple[float, bytes]] = {}

    # -- caches -------------------------------------------------------------------------------

    def _max_age(self, response: httpx.Response, default: int = 300) -> int:
        for part in response.headers.get("cache-control", "").split(","):
            name, _, value = part.strip().partition("=")
            if name == "max-age" and value.isdigit():
                return int(value)
        return default

    def _keys(self, *, refresh: bool = False) -> dict[str, PyJWK]:
        if refresh or self._clock() >= self._jwks_expires:
            response = self._http.get(f"{self.base_url}/.well-known/jwks.json")
            response.raise_for_status()
            self._jwks = {k["kid"]: PyJWK(k) for k in response.json()["keys"] if k.get("kty") == "OKP"}
            self._jwks_expires = self._clock() + self._max_age(response)
        return self._jwks

    def _key(self, kid: str) -> PyJWK | None:
        return self._keys().get(kid) or self._keys(refresh=True).get(kid)

    def _status_bits(self, uri: str) -> bytes:
        cached = self._lists.get(uri)
        if cached and self._clock() < cached[0]:
            return cached[1]
        if urlsplit(uri)[:2] != urlsplit(self.base_url)[:2]:
            raise ValueError("status list outside the service's origin")
        response = self._http.get(uri)
        response.raise_for_status()
        token = response.text.strip()
        header = jwt.get_unverified_header(token)
        if header.get("typ") != "statuslist+jwt":
            raise ValueError("not a status list token")
        key = self._key(header.get("kid", ""))
        if key is None:
            raise ValueError("status list signed with an unknown key")
        claims = jwt.decode(token, key.key, algorithms=ALGORITHMS, options={"verify_aud": False}, leeway=LEEWAY)
        if claims.get("sub") != uri:
            raise ValueError("status list subject does not match its address")
        lst = claims["status_list"]["lst"]
        bits = zlib.decompress(base64.urlsafe_b64decode(lst + "=" * (-len(lst) % 4)))
        self._lists[uri] = (self._clock() + int(claims.get("ttl", 300)), bits)
        return bits

    # -- verification -------------------------------------------------------------------------

    def verify(
        self,
        token: str,
        *,
        modality: str,
        operation: str,
        media_sha256: str | None = None,
        require_media_binding: bool = False,
    ) -> VerifyResult:
        """Apply the server's rules locally. Never raises for a bad token: returns active=False and a reason."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            return VerifyResult(False, "malformed")
        if header.get("alg") not in ALGORITHMS:
            return VerifyResult(False, "algorithm_not_allowed")
        if header.get("typ") != "consent+jwt":
            return VerifyResult(False, "wrong_type")
        key = self._key(header.get("kid", ""))
        if key is None:
            return VerifyResult(False, "unknown_key")
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=ALGORITHMS,
                audience=self.audience,
                leeway=LEEWAY,
                options={"require": ["exp", "nbf", "iat", "aud", "jti"]},
            )
        except jwt.ExpiredSignatureError:
            return VerifyResult(False, "expired")
        except jwt.ImmatureSignatureError:
            return VerifyResult(False, "not_yet_valid")
        except jwt.InvalidAudienceError:
            return VerifyResult(False, "wrong_audience")
        except jwt.PyJWTError:
            return VerifyResult(False, "bad_signature")
        if claims.get("mod") != modality:
            return VerifyResult(False, "modality_not_consented")
        if operation not in claims.get("ops", []):
            return VerifyResult(False, "operation_not_consented")
        samples = claims.get("media", [])
        if (media_sha256 or require_media_binding) and (media_sha256 or "").lower() not in samples:
            return VerifyResult(False, "media_not_bound")
        status = claims.get("status", {}).get("status_list", {})
        try:
            bits = self._status_bits(status["uri"])
            index = int(status["idx"])
        except (KeyError, ValueError, httpx.HTTPError, jwt.PyJWTError, zlib.error):
            return VerifyResult(False, "status_unavailable")
        if index // 8 >= len(bits) or bits[index // 8] >> (index % 8) & 1:
            return VerifyResult(False, "revoked")
        return VerifyResult(True, "", claims)
