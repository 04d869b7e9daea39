"""One error shape for the whole API: {"code", "message", "fields"}; nothing expected becomes a 500."""

from django.core.exceptions import ObjectDoesNotExist, RequestDataTooBig, SuspiciousOperation
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from errors import ApplicationError

CODES = {
    exceptions.ParseError: "malformed_request",
    exceptions.AuthenticationFailed: "unauthenticated",
    exceptions.NotAuthenticated: "unauthenticated",
    exceptions.PermissionDenied: "forbidden",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "rate_limited",
    exceptions.ValidationError: "invalid",
}


def _flatten(detail, prefix="") -> dict[str, list[str]]:
    """DRF's nested error detail → {"items[0].operations": ["..."]}."""
    fields: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            # A ListField's errors are keyed by position: items[0], not items.0.
            name = f"{prefix}[{key}]" if isinstance(key, int) else (f"{prefix}.{key}" if prefix else str(key))
            fields.update(_flatten(value, "" if key == "non_field_errors" and not prefix else name))
    elif isinstance(detail, list) and detail and all(isinstance(d, dict | list) for d in detail):
        for index, value in enumerate(detail):
            fields.update(_flatten(value, f"{prefix}[{index}]"))
    else:
        items = detail if isinstance(detail, list) else [detail]
        fields.setdefault(prefix or "non_field_errors", []).extend(str(i) for i in items if str(i))
    return fields


def error_response(code: str, message: str, status_code: int, fields: dict | None = None, headers=None) -> Response:
    return Response({"code": code, "message": message, "fields": fields or {}}, status=status_code, headers=headers)


def exception_handler(exc, context):
    if isinstance(exc, ApplicationError):  # every app's expected failures, whichever service raised them
        headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else None
        return error_response(exc.code, str(exc), exc.status, exc.fields, headers=headers)
    if isinstance(exc, Http404 | ObjectDoesNotExist):
        return error_response("not_found", _("Not found."), status.HTTP_404_NOT_FOUND)
    if isinstance(exc, RequestDataTooBig):
        return error_response(
            "request_too_large", _("The request body is too large."), status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
        )
    if isinstance(exc, SuspiciousOperation):  # too many fields or files, a malformed multipart body...
        message = _("The request is malformed: too many fields or files, or a broken multipart body.")
        return error_response("malformed_request", message, status.HTTP_400_BAD_REQUEST)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    code = next((c for cls, c in CODES.items() if isinstance(exc, cls)), "error")
    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        return error_response(code, _("Some fields need attention."), response.status_code, fields)
    message = str(exc.detail) if hasattr(exc, "detail") else str(exc)
    headers = {k: v for k, v in response.headers.items() if k in ("Retry-After", "WWW-Authenticate", "Allow")}
    return error_response(code, message, response.status_code, headers=headers)
