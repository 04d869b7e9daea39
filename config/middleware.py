"""Refuse a request body that is too large before anything reads it; a clean 503 while the database is away;
choose the language of the answer; keep API answers out of caches; the verify call's short way past the rest."""

import sys

from django.conf import settings
from django.core.signals import got_request_exception
from django.db import DatabaseError
from django.http import HttpResponse
from django.middleware.locale import LocaleMiddleware
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.deprecation import MiddlewareMixin
from django.utils.module_loading import import_string
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.utils.translation.trans_real import parse_accept_lang_header

from config.views import api_error


class RequestBodyLimitMiddleware:
    """Answer 413 when Content-Length is above REQUEST_BODY_MAX_BYTES, without reading the body.

    A body without Content-Length (chunked) is read by Django as empty, so the header is the whole
    story here. The reverse proxy should refuse the same size first (nginx `client_max_body_size`).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0  # Django itself treats an unreadable length as no body
        limit = settings.REQUEST_BODY_MAX_BYTES
        if length > limit:
            megabytes = f"{limit / (1024 * 1024):.0f}"
            if request.path.startswith("/api/"):
                message = _("The request body is larger than %(mb)s MB; send fewer samples.") % {"mb": megabytes}
                return api_error("request_too_large", message, 413)
            message = _("The upload is too large: at most %(mb)s MB per request.") % {"mb": megabytes}
            return HttpResponse(message, status=413, content_type="text/plain; charset=utf-8")
        return self.get_response(request)


class DatabaseUnavailableMiddleware:
    """While the database is unreachable, answer a clean 503 (the API's JSON error, or a short page).

    A lost database connection can surface anywhere: in the session or OTP middleware as much as in a
    view. Django turns each layer's exception into a response before the next layer out sees it (the
    debug page with DEBUG, a 500 without), so `process_exception` would catch only views'. Instead, the
    `got_request_exception` signal, sent for every uncaught exception, marks the request when the cause is
    a database error, and this outermost middleware swaps whatever response came back for the 503. Django
    drops the broken connection at the end of the request and opens a new one on the next: no restart.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        got_request_exception.connect(_mark_database_error, dispatch_uid="database-unavailable")

    def __call__(self, request):
        response = self.get_response(request)
        if not getattr(request, "_database_unavailable", False):
            return response
        if request.path.startswith("/api/"):
            # The database can fail before LanguageMiddleware ran (sessions): choose the language here too.
            with translation.override(api_language(request.headers.get("Accept-Language", ""))):
                response = api_error(
                    "service_unavailable", _("The service is briefly unavailable; retry in a few seconds."), 503
                )
        else:
            response = HttpResponse(
                render_to_string("503.html", {"LANGUAGE_CODE": get_language()}),
                status=503,
                content_type="text/html; charset=utf-8",
            )
        response["Retry-After"] = "5"
        response["Cache-Control"] = "no-store"
        return response


def _mark_database_error(sender, request=None, **kwargs):
    if request is not None and isinstance(sys.exc_info()[1], DatabaseError):
        request._database_unavailable = True


API_DEFAULT_LANGUAGE = "en"


def api_language(accept_language: str) -> str:
    """The first supported language the client asks for; English when it asks for none we have."""
    for code, _quality in parse_accept_lang_header(accept_language):
        if code == "*":
            break
        try:
            return translation.get_supported_language_variant(code)
        except LookupError:
            continue
    return API_DEFAULT_LANGUAGE


class LanguageMiddleware(LocaleMiddleware):
    """Pages: Django's choice (language cookie, Accept-Language, zh-Hans by default).

    The API (`/api/`) answers in the language of `Accept-Language` alone, English when it is absent:
    its clients are programs, so one request gets every message (error, field errors) in one language,
    whatever cookie a browser might carry.
    """

    def process_request(self, request):
        if not request.path.startswith("/api/"):
            return super().process_request(request)
        language = api_language(request.headers.get("Accept-Language", ""))
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()
        return None


class ApiNoStoreMiddleware(MiddlewareMixin):
    """`Cache-Control: no-store` on every API answer (`/api/`), errors included, unless it set its own caching.

    API answers carry personal data, bearer tokens and live consent state (an introspection answer is stale
    the moment a consent is withdrawn): no browser, proxy or client cache may keep them (RFC 6749 §5.1,
    RFC 7662 §4). A view that chose its caching keeps it: the public status lists under `/api/v1/status-lists/`
    say `public, max-age=...`. One of TokenVerifyShortcutMiddleware's SHARED layers, so the lean verify answer
    gets the header from here too.
    """

    def process_response(self, request, response):
        if request.path_info.startswith("/api/") and not response.has_header("Cache-Control"):
            response["Cache-Control"] = "no-store"
        return response


class TokenVerifyShortcutMiddleware:
    """Serve `POST /api/v1/tokens/verify` by consent.api.verify.token_verify_lean, before the middleware an
    API call has no use for (static files, sessions, users, CSRF, OTP, messages); whatever it declines goes
    on through the whole stack.

    Placed right after DatabaseUnavailableMiddleware (whose 503 covers this path too). The layers below it
    that act on every API answer (SHARED) are not copied but run here, their own process_request before the
    lean answer and process_response after it, in the stack's order: the answer carries the very headers
    the framework path's does (HSTS, nosniff, Referrer-Policy, Cross-Origin-Opener-Policy, Content-Language
    and Vary, X-Frame-Options, Content-Security-Policy, Cache-Control), with the view's own (Allow) from the view class.
    A layer that would answer or refuse on the request side (the HTTPS redirect, a host not allowed) sends
    the call on through the stack, which does so; the body size limit likewise (`_fits`).
    """

    SHARED = (
        "django.middleware.security.SecurityMiddleware",
        "config.middleware.ApiNoStoreMiddleware",
        "config.middleware.LanguageMiddleware",
        "django.middleware.common.CommonMiddleware",
        "django.middleware.clickjacking.XFrameOptionsMiddleware",
        "csp.middleware.CSPMiddleware",
    )

    def __init__(self, get_response):
        from consent.api.verify import PATH, token_verify_lean  # the app registry is ready by now
        from consent.api.views import TokenVerifyApi  # likewise: views import models

        self.get_response = get_response
        self.path, self.answer = PATH, token_verify_lean
        layers = [import_string(path)(get_response) for path in settings.MIDDLEWARE if path in self.SHARED]
        self.requesting = [layer for layer in layers if hasattr(layer, "process_request")]
        self.responding = [layer for layer in reversed(layers) if hasattr(layer, "process_response")]
        self.view_headers = dict(TokenVerifyApi().default_response_headers)

    def __call__(self, request):
        if request.method != "POST" or request.path_info != self.path or not self._fits(request):
            return self.get_response(request)
        try:
            declined = any(layer.process_request(request) is not None for layer in self.requesting)
        except Exception:  # DisallowedHost, a refused user agent: the stack raises and answers it again
            declined = True
        response = None if declined else self.answer(request)
        if response is None:
            return self.get_response(request)
        for name, value in self.view_headers.items():
            response[name] = value
        for layer in self.responding:
            response = layer.process_response(request, response)
        return response

    @staticmethod
    def _fits(request) -> bool:
        """The body is within the limit (RequestBodyLimitMiddleware answers one over it)."""
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        return length <= settings.REQUEST_BODY_MAX_BYTES
