"""Offline verification of consent tokens: JWKS and Token Status Lists fetched and cached, rules as the server's.

The server's online verify endpoint is authoritative (revocation is effective there at once); offline
verification sees a revocation once the cached status list expires (its `ttl`).
"""

import base64
import json
import time
import zlib
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx
from joserfc import jws
from joserfc.errors import BadSignatureError, JoseError
from joserfc.jwa import EdDSAAlgorithm
from joserfc.jwk import OKPKey

LEEWAY = 30
ALGORITHMS = ["EdDSA"]
REQUIRED_CLAIMS = ("exp", "nbf", "iat", "aud", "jti")


class _EdDSA(EdDSAAlgorithm):
    security_warning = None  # the service issues "EdDSA" on purpose: every JOSE library reads it


class _Registry(jws.JWSRegistry):
    """Ed25519 signatures and nothing else, so no other algorithm can ever be accepted."""

    algorithms = {"EdDSA": _EdDSA()}
    recommended = []


# joserfc checks the signature: of the JOSE libraries measured (bench/inproc.py), its call path adds
# the least to the Ed25519 check itself.
_REGISTRY = _Registry(algorithms=ALGORITHMS)


def _okp_key(jwk: dict) -> OKPKey:
    # Without "alg": joserfc would hold the JWK's name against a token naming the algorithm otherwise.
    return OKPKey.import_key({name: value for name, value in jwk.items() if name != "alg"})


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
        self._audiences = frozenset(self.audience) if isinstance(self.audience, list) else frozenset([self.audience])
        self._http = http or httpx.Client(timeout=10.0)
        self._clock = clock
        self._jwks: dict[str, OKPKey] = {}
        self._jwks_expires = 0.0
        self._lists: dict[str, tuple[float, bytes]] = {}
        self._headers: dict[str, dict] = {}

    # -- caches -------------------------------------------------------------------------------

    def _max_age(self, response: httpx.Response, default: int = 300) -> int:
        for part in response.headers.get("cache-control", "").split(","):
            name, _, value = part.strip().partition("=")
            if name == "max-age" and value.isdigit():
                return int(value)
        return default

    def _keys(self, *, refresh: bool = False) -> dict[str, OKPKey]:
        if refresh or self._clock() >= self._jwks_expires:
            response = self._http.get(f"{self.base_url}/.well-known/jwks.json")
            response.raise_for_status()
            self._jwks = {
                k["kid"]: _okp_key(k)
                for k in response.json()["keys"]
                if k.get("kty") == "OKP" and k.get("crv") == "Ed25519"
            }
            self._jwks_expires = self._clock() + self._max_age(response)
        return self._jwks

    def _key(self, kid: str) -> OKPKey | None:
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
        header = jws.extract_compact(token.encode()).headers()
        if header.get("typ") != "statuslist+jwt":
            raise ValueError("not a status list token")
        key = self._key(header.get("kid", ""))
        if key is None:
            raise ValueError("status list signed with an unknown key")
        claims = json.loads(jws.deserialize_compact(token, key, registry=_REGISTRY).payload)
        now = self._clock()
        if not isinstance(claims, dict) or not claims.get("exp", 0) + LEEWAY >= now >= claims.get("iat", now) - LEEWAY:
            raise ValueError("status list expired or not yet valid")
        if claims.get("sub") != uri:
            raise ValueError("status list subject does not match its address")
        lst = claims["status_list"]["lst"]
        bits = zlib.decompress(base64.urlsafe_b64decode(lst + "=" * (-len(lst) % 4)))
        self._lists[uri] = (self._clock() + int(claims.get("ttl", 300)), bits)
        return bits

    # -- verification -------------------------------------------------------------------------

    def _header(self, segment: str) -> dict:
        """The token's JOSE header, parsed once per distinct header (one per signing key in practice)."""
        header = self._headers.get(segment)
        if header is None:
            header = jws.extract_compact(f"{segment}..".encode()).headers()
            if len(self._headers) >= 64:  # a stream of junk headers must not grow the cache without bound
                self._headers.clear()
            self._headers[segment] = header
        return header

    def verify(
        self,
        token: str,
        *,
        modality: str,
        operation: str,
        media_sha256: str | None = None,
        require_media_binding: bool = False,
    ) -> VerifyResult:
        """Apply the server's rules locally. Never raises for a bad token: returns active=False and a reason.

        The signature is checked by joserfc with a key object cached per `kid` (and each distinct header
        parsed once); the claims are then checked here, once, in the server's order.
        """
        if not isinstance(token, str) or token.count(".") != 2:
            return VerifyResult(False, "malformed")
        try:
            header = self._header(token[: token.index(".")])
        except (JoseError, ValueError):
            return VerifyResult(False, "malformed")
        if header.get("alg") not in ALGORITHMS:
            return VerifyResult(False, "algorithm_not_allowed")
        if header.get("typ") != "consent+jwt":
            return VerifyResult(False, "wrong_type")
        key = self._key(header.get("kid", ""))
        if key is None:
            return VerifyResult(False, "unknown_key")
        try:
            claims = json.loads(jws.deserialize_compact(token, key, registry=_REGISTRY).payload)
        except BadSignatureError:
            return VerifyResult(False, "bad_signature")
        except (JoseError, ValueError):
            return VerifyResult(False, "malformed")
        if not isinstance(claims, dict) or any(name not in claims for name in REQUIRED_CLAIMS):
            return VerifyResult(False, "malformed")
        exp, nbf = claims["exp"], claims["nbf"]
        if not all(isinstance(value, int | float) and not isinstance(value, bool) for value in (exp, nbf)):
            return VerifyResult(False, "malformed")
        now = self._clock()
        if now > exp + LEEWAY:
            return VerifyResult(False, "expired")
        if now < nbf - LEEWAY:
            return VerifyResult(False, "not_yet_valid")
        token_audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if not self._audiences.intersection(str(a) for a in token_audiences):
            return VerifyResult(False, "wrong_audience")
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
        except (KeyError, TypeError, ValueError, httpx.HTTPError, JoseError, zlib.error):
            return VerifyResult(False, "status_unavailable")
        if index // 8 >= len(bits) or bits[index // 8] >> (index % 8) & 1:
            return VerifyResult(False, "revoked")
        return VerifyResult(True, "", claims)
