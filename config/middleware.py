"""Refuse a request body that is too large before anything reads it."""

from django.conf import settings
from django.http import HttpResponse
from django.utils.translation import gettext as _

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
                return api_error(
                    "request_too_large", f"The request body is larger than {megabytes} MB; send fewer samples.", 413
                )
            message = _("The upload is too large: at most %(mb)s MB per request.") % {"mb": megabytes}
            return HttpResponse(message, status=413, content_type="text/plain; charset=utf-8")
        return self.get_response(request)
