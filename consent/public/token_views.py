"""Public, unauthenticated endpoints: JWKS, Token Status Lists, the receipt schema (anyone may fetch them)."""

import hashlib
import json

from django.http import Http404, HttpResponse
from django.utils.cache import get_conditional_response, patch_cache_control
from django.views.decorators.http import require_safe

from consent import tokens
from consent.models import StatusList
from consent.records.receipt import receipt_schema, receipt_schema_url
from consent.statuslist import STATUS_LIST_TTL

JWKS_MAX_AGE = 300


def _public(response: HttpResponse, *, max_age: int) -> HttpResponse:
    patch_cache_control(response, public=True, max_age=max_age)
    # Public data that offline verifiers (browser-based ones too) fetch from other origins.
    response["Access-Control-Allow-Origin"] = "*"
    return response


@require_safe
def jwks_view(request):
    body = json.dumps(tokens.jwks(), separators=(",", ":"), sort_keys=True)
    etag = f'"{hashlib.sha256(body.encode()).hexdigest()[:32]}"'
    response = _public(HttpResponse(body, content_type="application/jwk-set+json"), max_age=JWKS_MAX_AGE)
    response["ETag"] = etag
    return get_conditional_response(request, etag=etag, response=response)


@require_safe
def status_list_view(request, number: int):
    try:
        token = tokens.status_list_token(number)
    except StatusList.DoesNotExist:
        raise Http404("no such status list") from None
    return _public(HttpResponse(token, content_type="application/statuslist+jwt"), max_age=STATUS_LIST_TTL)


SCHEMA_MAX_AGE = 3600


@require_safe
def receipt_schema_view(request):
    """The JSON Schema of the receipt.json embedded in every record (stored in the repository, served as is)."""
    body = json.dumps({"$id": receipt_schema_url(), **receipt_schema()}, ensure_ascii=False, indent=2)
    return _public(HttpResponse(body, content_type="application/schema+json"), max_age=SCHEMA_MAX_AGE)
