"""Refuse a request body that is too large before anything reads it; a clean 503 while the database is away;
choose the language of the answer; the verify call's short way past the rest."""

import sys

from django.conf import settings
from django.core.signals import got_request_exception
from django.db import DatabaseError
from django.http import HttpResponse
from django.middleware.locale import LocaleMiddleware
from django.middleware.security import SecurityMiddleware
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.cache import patch_vary_headers
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


class TokenVerifyShortcutMiddleware:
    """Serve `POST /api/v1/tokens/verify` by consent.api.verify.token_verify_lean, before the middleware an
    API call has no use for (static files, sessions, users, CSRF, OTP, messages, CSP); whatever it declines
    goes on through the whole stack.

    Placed right after DatabaseUnavailableMiddleware (whose 503 covers this path too), it does here what
    the middleware it skips would do to such a call: the HTTPS redirect and the body size limit send the
    call on to them; the security headers come from SecurityMiddleware's own process_response, the
    language headers as LanguageMiddleware sets them for the API.
    """

    def __init__(self, get_response):
        from consent.api.verify import PATH, token_verify_lean  # the app registry is ready by now

        self.get_response = get_response
        self.security = SecurityMiddleware(get_response)
        self.path, self.answer = PATH, token_verify_lean

    def __call__(self, request):
        if request.method != "POST" or request.path_info != self.path or not self._fits(request):
            return self.get_response(request)
        response = self.answer(request)
        if response is None:
            return self.get_response(request)
        response["Content-Language"] = api_language(request.headers.get("Accept-Language", ""))
        patch_vary_headers(response, ("Accept-Language",))
        return self.security.process_response(request, response)

    @staticmethod
    def _fits(request) -> bool:
        """Neither an HTTPS redirect due nor a body over the limit (their middleware answers those)."""
        if settings.SECURE_SSL_REDIRECT and not request.is_secure():
            return False
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        return length <= settings.REQUEST_BODY_MAX_BYTES
