"""The verify hot path: `POST /api/v1/tokens/verify` without the per-request framework machinery.

Generation services call verify before every job, so its cost is theirs. For the call as services make it
(a JSON or form body with well-formed fields, a valid key with the scope, within its rate limit) this path
answers with two SQL statements, one cache round trip and no DRF request, serializer or browser
middleware: one SELECT reads the key and, scoped to the key's organisation, the consent's live state;
`token_verify` checks the token; one INSERT logs the presentation, committed before the answer.

Everything else (bad input, a missing, unknown or revoked key, a missing scope, a refusal by the rate
limit, another method) is handed to `TokenVerifyApi`, the framework view, which answers it with its
usual error codes and messages: this path only takes calls whose answer it gives exactly as that view
would, and changes nothing (no row, no count) before handing over.
"""

import hmac
import json
import re

from django.http import HttpResponse
from django.utils import timezone

from consent import selectors, services, tokens
from consent.api.auth import ApiKeyRateThrottle
from consent.models import ApiKey, Modality, Operation, Presentation
from identity.net import client_ip

FIELDS = frozenset({"token", "modality", "operation", "media_sha256"})
# What a compact JWS is made of, within the view's max_length. Anything else is the framework view's to judge.
TOKEN = re.compile(r"[A-Za-z0-9_=.-]{1,8192}")
SHA256_HEX = re.compile(r"[0-9a-fA-F]{64}")
MODALITIES = frozenset(Modality.values)
OPERATIONS = frozenset(Operation.values)
PATH = "/api/v1/tokens/verify"  # the route of TokenVerifyApi ("api-token-verify"), which a test holds it to


def _fields(request) -> dict | None:
    """The four fields when they are exactly what TokenVerifyInput accepts unchanged, else None."""
    body = request.body
    if not body.isascii():  # then every charset a client may name reads it alike
        return None
    if request.content_type == "application/json":
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            return None
    elif request.content_type == "application/x-www-form-urlencoded":
        try:
            data = {name: request.POST[name] for name in request.POST}  # the last value, as DRF reads a form
        except Exception:  # too many fields and the like: the framework view names the fault
            return None
    else:
        return None
    if not isinstance(data, dict) or not data.keys() <= FIELDS:
        return None
    token, modality, operation = data.get("token"), data.get("modality"), data.get("operation")
    media = data.get("media_sha256", "")
    if not (isinstance(token, str) and TOKEN.fullmatch(token)):
        return None
    # Strings first: a list or an object cannot even be looked up in a set.
    if not (isinstance(modality, str) and isinstance(operation, str)):
        return None
    if modality not in MODALITIES or operation not in OPERATIONS:
        return None
    if not (isinstance(media, str) and (media == "" or SHA256_HEX.fullmatch(media))):
        return None
    return {"token": token, "modality": modality, "operation": operation, "media_sha256": media.lower()}


def _credentials(request) -> tuple[str, str] | None:
    parts = request.META.get("HTTP_AUTHORIZATION", "").split()
    if len(parts) != 2 or parts[0].lower() != "bearer" or not parts[1].isascii():
        return None
    prefix, _dot, secret = parts[1].partition(".")
    return (prefix, secret) if prefix and secret else None


def _claimed_consent_id(token: str) -> int | None:
    """The `cid` the token claims, before any check: only to read that consent in the same query.

    token_verify decides with the claims it verified; the row read here is used only when their `cid`
    is this one (tokens.token_verify's `consent_read`).
    """
    try:
        claims = tokens._json_segment(token.split(".")[1])
    except (ValueError, IndexError, RecursionError):
        return None
    cid = claims.get("cid")
    return cid if isinstance(cid, int) and not isinstance(cid, bool) else None


def _json_response(body: dict) -> HttpResponse:
    # As DRF's JSONRenderer writes it: compact, UTF-8, with U+2028/U+2029 escaped for JavaScript.
    text = json.dumps(body, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return HttpResponse(text.encode(), content_type="application/json")


def token_verify_lean(request) -> HttpResponse | None:
    """Answer a verify call as TokenVerifyApi does, or None (nothing changed) to let that view answer it.

    The headers the view and the middleware add to its answer are added by TokenVerifyShortcutMiddleware.
    """
    credentials = _credentials(request)
    values = _fields(request) if credentials else None
    if values is None:
        return None
    prefix, secret = credentials
    now = timezone.now()
    cid = _claimed_consent_id(values["token"])
    caller = selectors.verify_caller_get(prefix=prefix, consent_id=cid, now=now)
    if (
        caller is None
        or not hmac.compare_digest(caller.secret_hash, services.api_key_hash(secret))
        or caller.revoked
        or ApiKey.Scope.TOKENS_VERIFY not in caller.scopes
    ):
        return None  # 401 or 403, in the framework view's words
    throttle = ApiKeyRateThrottle()
    if throttle.rate is not None and throttle.hit(throttle.key_for(prefix)) is not None:
        return None  # refused and not counted: the framework view counts, refuses and answers 429
    if caller.touch_due:
        services.api_key_touch(key=ApiKey(pk=caller.key_id))

    def consent_read(claimed: int):
        if claimed == cid:
            return caller.consent
        return tokens._consent_read(caller.organization_id, claimed)  # cannot happen: the same claims

    outcome = tokens.token_verify(
        token=values["token"],
        audience_org_id=caller.organization_id,
        audience_public_id=caller.organization_public_id,
        modality=values["modality"],
        operation=values["operation"],
        media_sha256=values["media_sha256"] or None,
        require_media_binding=caller.require_media_binding,
        now=now,
        consent_read=consent_read,
    )
    presentation_id = services.presentation_log(
        consent_id=outcome.consent.pk if outcome.consent else None,
        api_key_id=caller.key_id,
        organization_id=caller.organization_id,
        modality=values["modality"],
        operation=values["operation"],
        media_sha256=values["media_sha256"],
        result=Presentation.Result.ACTIVE if outcome.active else Presentation.Result.INACTIVE,
        reason=outcome.reason,
        client_ip=client_ip(request),
    )
    if outcome.active:
        return _json_response({"active": True, **outcome.claims, "presentation_id": presentation_id})
    body = {"active": False}
    if outcome.audience_matches and outcome.reason:
        body["reason"] = outcome.reason
    return _json_response(body)
