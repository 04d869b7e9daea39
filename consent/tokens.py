"""Consent tokens: Ed25519 signing keys, issue and verification, Token Status Lists (DESIGN.md "Tokens").

A token is a compact JWS, header {"alg": "EdDSA", "typ": "consent+jwt", "kid": ...}, that any JOSE
library verifies from the JWKS alone. Online verification (`token_verify`) additionally checks the
Consent row, so a revocation is effective at once; offline verifiers see it through the status list.
"""

import base64
import binascii
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial

from django.conf import settings
from django.db import connection, models, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from joserfc import jws
from joserfc.errors import BadSignatureError, JoseError
from joserfc.jwa import EdDSAAlgorithm
from joserfc.jwk import OKPKey

import audit
from consent import statuslist
from consent.models import Consent, ConsentToken, SigningKey, StatusList
from identity.crypto import blind_index, decrypt, encrypt
from identity.models import Organization

__all__ = [
    "ACCEPTED_ALGORITHMS",
    "LEEWAY",
    "VerifyOutcome",
    "VerifyReason",
    "audience_of",
    "consent_token_invalidate",
    "consent_token_issue",
    "jwks",
    "pairwise_subject",
    "provenance_receipt_sign",
    "provenance_receipt_verify",
    "signing_key_current",
    "signing_key_rotate",
    "status_list_token",
    "token_verify",
]

SIGNING_ALGORITHM = "EdDSA"
# RFC 9864 deprecates "EdDSA" for the fully specified "Ed25519"; both name an Ed25519 key here, nothing else.
ACCEPTED_ALGORITHMS = ("EdDSA", "Ed25519")
TOKEN_TYPE = "consent+jwt"  # noqa: S105 (a media type, not a secret)
STATUS_LIST_TYPE = "statuslist+jwt"
RECEIPT_TYPE = "provenance+jwt"
LEEWAY = 30  # seconds of clock skew allowed on exp and nbf
MAX_TOKEN_LENGTH = 16384
_KEY_LOCK_ID = 0x4C435F4B455953  # PostgreSQL advisory lock serialising key creation and rotation
_KEY_CONTEXT = "signing_key"


class _QuietEdDSA(EdDSAAlgorithm):
    # We issue "EdDSA" on purpose (every JOSE library reads it today); joserfc warns on each use.
    security_warning = None


class _Ed25519Registry(jws.JWSRegistry):
    """A JWS registry that knows the two names of Ed25519 signatures and no other algorithm."""

    algorithms = {"EdDSA": _QuietEdDSA(), "Ed25519": jws.JWSRegistry.algorithms["Ed25519"]}
    recommended = []


_REGISTRY = _Ed25519Registry(algorithms=ACCEPTED_ALGORITHMS)


# ---- signing keys ------------------------------------------------------------------------------


def _lock_keys() -> None:
    # Nothing to select_for_update before the first key exists, so take a named lock instead. SQLite
    # transactions here are IMMEDIATE (settings), which already admits one writer at a time.
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_KEY_LOCK_ID])


def _newest_active_key() -> SigningKey | None:
    return SigningKey.objects.filter(retired_at__isnull=True).order_by("-created_at", "-id").first()


def _key_create() -> SigningKey:
    key = OKPKey.generate_key("Ed25519")
    kid = key.thumbprint()[:32]  # RFC 7638 thumbprint, shortened to fit the column
    public_jwk = {**key.as_dict(private=False), "kid": kid, "alg": SIGNING_ALGORITHM, "use": "sig"}
    return SigningKey.objects.create(
        kid=kid,
        private_key_enc=encrypt(key.as_pem(private=True).decode(), context=_KEY_CONTEXT),
        public_jwk=public_jwk,
    )


def signing_key_current() -> SigningKey:
    """The key that signs from now on; the first one is created on first use."""
    key = _newest_active_key()
    if key is not None:
        return key
    with transaction.atomic():
        _lock_keys()
        key = _newest_active_key()  # another process may have created it while we waited
        if key is None:
            key = _key_create()
            audit.record("system", "signing_key.create", key, {"kid": key.kid})
    return key


@transaction.atomic
def signing_key_rotate(*, actor) -> SigningKey:
    """Sign with a new key from now on. Old keys stay published until their last token has expired."""
    _lock_keys()
    now = timezone.now()
    retired = list(SigningKey.objects.select_for_update().filter(retired_at__isnull=True).order_by("id"))
    SigningKey.objects.filter(pk__in=[key.pk for key in retired]).update(retired_at=now)
    key = _key_create()
    # Cached status list tokens are re-signed with the new key on their next fetch.
    StatusList.objects.exclude(token="").update(token="", token_issued_at=None)
    audit.record(actor, "signing_key.rotate", key, {"kid": key.kid, "retired": [old.kid for old in retired]})
    transaction.on_commit(_PUBLIC_KEYS.clear)
    return key


def _published_keys(now: datetime):
    """Active keys, and retired ones while a token or a status list signed by them may still be accepted."""
    return SigningKey.objects.filter(
        Q(retired_at__isnull=True)
        | Q(last_token_expires_at__gt=now - timedelta(seconds=LEEWAY))
        | Q(retired_at__gt=now - statuslist.STATUS_LIST_LIFETIME - timedelta(seconds=LEEWAY))
    )


def _published_until(key: SigningKey, now: datetime) -> datetime:
    """Until when `key` stays in the published set as the database holds it now (the mirror of _published_keys)."""
    if key.retired_at is None:
        return datetime.max.replace(tzinfo=UTC)  # until a rotation, which nothing here can foresee
    ends = [key.retired_at + statuslist.STATUS_LIST_LIFETIME + timedelta(seconds=LEEWAY)]
    if key.last_token_expires_at is not None:
        ends.append(key.last_token_expires_at + timedelta(seconds=LEEWAY))
    return max(ends)


# kid -> (valid from, valid until, public key): this process's copy of published verification keys.
_PUBLIC_KEYS: dict[str, tuple[datetime, datetime, OKPKey]] = {}
PUBLIC_KEY_CACHE = timedelta(seconds=60)


def _public_key(kid: str, now: datetime) -> OKPKey | None:
    """The published Ed25519 key `kid` as a key object, read once a minute per process instead of per call.

    Safe to keep: a key leaves the published set only as time passes, once every token it signed has
    expired, and a rotation in another process never unpublishes the old key (it stays published until
    its last token expires). So a copy at most PUBLIC_KEY_CACHE old can only turn an "unknown key" into
    an "expired" refusal, never let a token through. Rotation empties this process's copy at once.
    """
    cached = _PUBLIC_KEYS.get(kid)
    if cached is not None and cached[0] <= now < cached[1]:
        return cached[2]
    key = _published_keys(now).filter(kid=kid).first()
    if key is None or key.public_jwk.get("kty") != "OKP" or key.public_jwk.get("crv") != "Ed25519":
        _PUBLIC_KEYS.pop(kid, None)
        return None
    # Without the JWK's "alg" ("EdDSA"), which joserfc would hold against a token saying "Ed25519".
    public = OKPKey.import_key({name: value for name, value in key.public_jwk.items() if name != "alg"})
    if len(_PUBLIC_KEYS) > 100:  # only published keys get here, but keep the copy small whatever happens
        _PUBLIC_KEYS.clear()
    _PUBLIC_KEYS[kid] = (now, min(now + PUBLIC_KEY_CACHE, _published_until(key, now)), public)
    return public


def jwks(*, now: datetime | None = None) -> dict:
    """The published JSON Web Key Set (public keys only), newest first."""
    keys = _published_keys(now or timezone.now()).order_by("-created_at", "-id")
    return {"keys": [key.public_jwk for key in keys]}


def _sign(*, key: SigningKey, typ: str, claims: dict) -> str:
    private = OKPKey.import_key(decrypt(key.private_key_enc, context=_KEY_CONTEXT))
    header = {"alg": SIGNING_ALGORITHM, "typ": typ, "kid": key.kid}
    payload = json.dumps(claims, separators=(",", ":"), ensure_ascii=False).encode()
    return jws.serialize_compact(header, payload, private, registry=_REGISTRY)


def _key_extend(*, key: SigningKey, expires_at: datetime) -> None:
    # One conditional UPDATE, so concurrent issues (and a rotation meanwhile) never lower the date.
    SigningKey.objects.filter(pk=key.pk).filter(
        Q(last_token_expires_at__isnull=True) | Q(last_token_expires_at__lt=expires_at)
    ).update(last_token_expires_at=expires_at)


def _at(timestamp: int) -> datetime:
    return datetime.fromtimestamp(timestamp, tz=UTC)


# ---- issue and invalidate ----------------------------------------------------------------------


def pairwise_subject(*, organization_id: int, person_id: int) -> str:
    """The person's pseudonym for one organisation: stable for it, unlinkable across organisations."""
    return blind_index(f"{organization_id}:{person_id}", purpose="token.sub")


def audience_of(organization: Organization) -> str:
    """The `aud` of an organisation's tokens: its public identifier, meaningful outside our database."""
    return str(organization.public_id)


def consent_token_issue(*, consent: Consent) -> ConsentToken:
    """Sign the consent's token and reserve its random status-list slot, inside the grant transaction."""
    with transaction.atomic():
        key = signing_key_current()
        exp = int(consent.valid_until.timestamp())
        # Lock order as in signing_key_rotate (key row, then status list rows), so the two never deadlock.
        _key_extend(key=key, expires_at=_at(exp))
        status_list, index = statuslist.status_slot_allocate()
        iat = int(timezone.now().timestamp())
        jti = secrets.token_urlsafe(24)
        claims = {
            "iss": settings.SITE_URL,
            "sub": pairwise_subject(organization_id=consent.organization_id, person_id=consent.person_id),
            "aud": audience_of(consent.organization),
            "jti": jti,
            "cid": consent.pk,
            "mod": consent.modality,
            "ops": list(consent.operations),
            "iat": iat,
            "nbf": iat,
            "exp": exp,
            "media": sorted(set(consent.item.samples.values_list("sha256", flat=True))),
            "status": {"status_list": {"idx": index, "uri": statuslist.status_list_uri(status_list.number)}},
        }
        return ConsentToken.objects.create(
            consent=consent,
            jti=jti,
            kid=key.kid,
            value=_sign(key=key, typ=TOKEN_TYPE, claims=claims),
            issued_at=_at(iat),
            expires_at=_at(exp),
            status_list=status_list,
            status_index=index,
        )


def consent_token_invalidate(*, consent: Consent) -> None:
    """Flip the token's status-list bit inside the revoke/expire transaction (no-op without a token)."""
    token = ConsentToken.objects.filter(consent=consent).only("status_list_id", "status_index").first()
    if token is not None:
        statuslist.status_slot_invalidate(status_list_id=token.status_list_id, index=token.status_index)


def status_list_token(number: int, *, now: datetime | None = None) -> str:
    """The signed status list JWT; re-signed only after a bit flipped or the cached one ages.

    Raises StatusList.DoesNotExist for an unknown list.
    """
    now = now or timezone.now()
    cached = StatusList.objects.only("number", "token", "token_issued_at").get(number=number)
    if statuslist.status_list_cache_fresh(cached, now=now):
        return cached.token
    with transaction.atomic():
        # Locked so that a revocation committing meanwhile can't be overwritten by a list without its bit.
        status_list = StatusList.objects.select_for_update().get(number=number)
        if statuslist.status_list_cache_fresh(status_list, now=now):
            return status_list.token
        claims = statuslist.status_list_claims(status_list, now=now)
        status_list.token = _sign(key=signing_key_current(), typ=STATUS_LIST_TYPE, claims=claims)
        status_list.token_issued_at = _at(claims["iat"])
        status_list.save(update_fields=["token", "token_issued_at"])
    return status_list.token


# ---- provenance receipts ----------------------------------------------------------------------


def provenance_receipt_sign(*, claims: dict, keep_published_until: datetime) -> str:
    """Sign an output's provenance receipt (`typ: provenance+jwt`) with the consent-token key.

    A receipt has no `exp`: the key stays in the JWKS at least until `keep_published_until` (the retention
    of the registration), so that anyone can still check the receipt from the JWKS alone until then.
    """
    key = signing_key_current()
    # Rounded up to the next midnight, so that the conditional UPDATE (and its row lock on the key) happens
    # once a day rather than on every registration.
    next_day = (keep_published_until + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    if key.last_token_expires_at is None or key.last_token_expires_at < keep_published_until:
        _key_extend(key=key, expires_at=next_day)
    return _sign(key=key, typ=RECEIPT_TYPE, claims=claims)


def provenance_receipt_verify(receipt: str) -> dict | None:
    """The claims of a receipt we signed, or None: wrong shape, algorithm, type, key or signature.

    Any key we ever held counts (a receipt outlives the key's time in the JWKS); nothing else is trusted.
    """
    if not isinstance(receipt, str) or len(receipt) > MAX_TOKEN_LENGTH or receipt.count(".") != 2:
        return None
    try:
        header = _json_segment(receipt.split(".", 1)[0])
    except (ValueError, binascii.Error, RecursionError):
        return None
    kid = header.get("kid")
    if header.get("alg") not in ACCEPTED_ALGORITHMS or header.get("typ") != RECEIPT_TYPE or not isinstance(kid, str):
        return None
    key = SigningKey.objects.filter(kid=kid).first()
    if key is None or key.public_jwk.get("kty") != "OKP" or key.public_jwk.get("crv") != "Ed25519":
        return None
    try:
        public = OKPKey.import_key({name: value for name, value in key.public_jwk.items() if name != "alg"})
        claims = json.loads(jws.deserialize_compact(receipt, public, registry=_REGISTRY).payload)
    except (JoseError, ValueError, binascii.Error, RecursionError):
        return None
    return claims if isinstance(claims, dict) else None


# ---- verification ------------------------------------------------------------------------------


class VerifyReason(models.TextChoices):
    """Why a presented token is not active (stable codes; shown only to the token's own audience)."""

    MALFORMED = "malformed", _("not a well-formed consent token")
    ALGORITHM_NOT_ALLOWED = "algorithm_not_allowed", _("signature algorithm not allowed")
    WRONG_TYPE = "wrong_type", _("not a consent token (typ)")
    UNKNOWN_KEY = "unknown_key", _("signed with an unknown key")
    BAD_SIGNATURE = "bad_signature", _("signature does not verify")
    EXPIRED = "expired", _("consent expired")
    NOT_YET_VALID = "not_yet_valid", _("token not yet valid")
    WRONG_AUDIENCE = "wrong_audience", _("issued to another organisation")
    UNKNOWN_CONSENT = "unknown_consent", _("no such consent")
    REVOKED = "revoked", _("consent withdrawn")
    MODALITY_NOT_CONSENTED = "modality_not_consented", _("modality not consented")
    OPERATION_NOT_CONSENTED = "operation_not_consented", _("operation not consented")
    MEDIA_NOT_BOUND = "media_not_bound", _("media not among the consented samples")


@dataclass(frozen=True)
class VerifyOutcome:
    """`claims` and `consent` are filled in as far as they could be trusted; reveal them only when active."""

    active: bool
    reason: str = ""
    claims: dict | None = None
    consent: Consent | None = None
    audience_matches: bool = False


def _refuse(reason: VerifyReason, **known) -> VerifyOutcome:
    return VerifyOutcome(active=False, reason=reason.value, **known)


def _json_segment(segment: str) -> dict:
    value = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _consent_read(organization_id: int, cid: int) -> Consent | None:
    # Only what the checks read, and no ORDER BY: one primary-key probe, scoped to the caller.
    fields = ("id", "organization_id", "state", "modality", "operations")
    try:
        return Consent.objects.only(*fields).get(pk=cid, organization_id=organization_id)
    except Consent.DoesNotExist:
        return None


def token_verify(
    *,
    token: str,
    audience_org_id: int,
    modality: str,
    operation: str,
    media_sha256: str | None,
    require_media_binding: bool,
    audience_public_id: str | None = None,
    now: datetime | None = None,
    consent_read: Callable[[int], Consent | None] | None = None,
) -> VerifyOutcome:
    """Check a presented consent token against its signature, the calling organisation and the live consent.

    The calling organisation is named by its database id and, to spare a query, its public identifier
    (looked up when not given). `consent_read(cid)` may hand over the consent row the caller already read
    (it must be read live and scoped to `audience_org_id`; None: no such consent there); without it the
    row is read here. Never raises on bad input: every refusal is an inactive outcome with a
    `VerifyReason` code.
    """
    now = now or timezone.now()
    if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH or token.count(".") != 2:
        return _refuse(VerifyReason.MALFORMED)
    try:
        header = _json_segment(token.split(".", 1)[0])
    except (ValueError, binascii.Error, RecursionError):
        return _refuse(VerifyReason.MALFORMED)
    alg = header.get("alg")
    if alg not in ACCEPTED_ALGORITHMS:
        return _refuse(VerifyReason.ALGORITHM_NOT_ALLOWED)
    if header.get("typ") != TOKEN_TYPE:
        return _refuse(VerifyReason.WRONG_TYPE)
    kid = header.get("kid")
    public = _public_key(kid, now) if isinstance(kid, str) else None
    if public is None:
        return _refuse(VerifyReason.UNKNOWN_KEY)
    try:
        signed = jws.deserialize_compact(token, public, registry=_REGISTRY)
        claims = json.loads(signed.payload)
    except BadSignatureError:
        return _refuse(VerifyReason.BAD_SIGNATURE)
    except (JoseError, ValueError, binascii.Error, RecursionError):
        return _refuse(VerifyReason.MALFORMED)
    if not isinstance(claims, dict):
        return _refuse(VerifyReason.MALFORMED)

    # From here on the claims are ours (the signature verified).
    if audience_public_id is None:
        audience_public_id = str(
            Organization.objects.filter(pk=audience_org_id).values_list("public_id", flat=True).first() or ""
        )
    # The public identifier since tokens carry it; the database id in tokens issued before, still valid.
    audience_matches = claims.get("aud") in ({audience_public_id, str(audience_org_id)} - {""})
    known = {"claims": claims, "audience_matches": audience_matches}
    exp, nbf, cid = claims.get("exp"), claims.get("nbf"), claims.get("cid")
    if not (_is_int(exp) and _is_int(nbf) and _is_int(cid)):
        return _refuse(VerifyReason.MALFORMED, **known)
    timestamp = now.timestamp()
    if timestamp > exp + LEEWAY:
        return _refuse(VerifyReason.EXPIRED, **known)
    if timestamp < nbf - LEEWAY:
        return _refuse(VerifyReason.NOT_YET_VALID, **known)
    if not audience_matches:
        return _refuse(VerifyReason.WRONG_AUDIENCE, **known)

    consent = (consent_read or partial(_consent_read, audience_org_id))(cid)
    if consent is None:
        return _refuse(VerifyReason.UNKNOWN_CONSENT, **known)
    known["consent"] = consent
    # The live row decides, so a withdrawal is effective the moment it commits.
    if consent.state == Consent.State.REVOKED:
        return _refuse(VerifyReason.REVOKED, **known)
    if consent.state != Consent.State.ACTIVE:
        return _refuse(VerifyReason.EXPIRED, **known)
    if modality != consent.modality:
        return _refuse(VerifyReason.MODALITY_NOT_CONSENTED, **known)
    if operation not in consent.operations:
        return _refuse(VerifyReason.OPERATION_NOT_CONSENTED, **known)
    media = (media_sha256 or "").strip().lower()
    samples = claims.get("media")
    if (media or require_media_binding) and not (isinstance(samples, list) and media in samples):
        return _refuse(VerifyReason.MEDIA_NOT_BOUND, **known)
    return VerifyOutcome(active=True, claims=claims, consent=consent, audience_matches=True)
