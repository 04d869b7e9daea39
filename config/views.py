"""Process health, readiness and the start page."""

import logging

from django.conf import settings
from django.db import connection
from django.http import Http404, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views import defaults
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe
from kombu import Connection

logger = logging.getLogger(__name__)


@require_safe
@never_cache
def healthz(request):
    return JsonResponse({"status": "ok"})


def bench_bare(request):
    """A fixed JSON answer through the full middleware stack: `make bench`'s floor (BENCH_BARE_VIEW only)."""
    if not settings.BENCH_BARE_VIEW:
        raise Http404
    return JsonResponse({"status": "ok"})


def _unavailable(check: str, exc: Exception) -> str:
    """The kind of failure for the public answer; the message (hosts, ports, users) only in the server log."""
    logger.warning("readiness check %s failed: %s: %s", check, type(exc).__name__, exc)
    return f"{type(exc).__name__} (details in the server log)"


def _database_ok() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # any failure means "not ready"
        return _unavailable("database", exc)
    return None


def _broker_ok() -> str | None:
    if not settings.CELERY_BROKER_URL:
        return None  # tasks run eagerly in-process
    try:
        with Connection(settings.CELERY_BROKER_URL, connect_timeout=2) as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=2)
    except Exception as exc:
        return _unavailable("broker", exc)
    return None


@require_safe
@never_cache
def readyz(request):
    checks = {"database": _database_ok(), "broker": _broker_ok()}
    failing = [name for name, error in checks.items() if error]
    body = {
        "status": "unavailable" if failing else "ok",
        "checks": {name: ("error: " + error) if error else "ok" for name, error in checks.items()},
    }
    if not settings.CELERY_BROKER_URL:
        body["checks"]["broker"] = "ok (eager: tasks run in the web process)"
    if failing:
        body["failing"] = failing
    return JsonResponse(body, status=503 if failing else 200)


def home(request):
    return render(request, "home.html", {"debug": settings.DEBUG})


# ---- error pages: the API answers its JSON error shape, everything else the usual HTML pages -----


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def api_error(code: str, message: str, status: int) -> JsonResponse:
    """The API's error shape for answers that never reach DRF (no route, middleware, crashes)."""
    return JsonResponse({"code": code, "message": message, "fields": {}}, status=status)


@csrf_exempt  # a POST to an unknown API path is a 404 in JSON, not the CSRF failure page
def api_not_found(request, *args, **kwargs):
    return api_error("not_found", _("Not found."), 404)


def bad_request(request, exception=None):
    if _is_api(request):
        return api_error("bad_request", _("The request could not be read."), 400)
    return defaults.bad_request(request, exception)


def permission_denied(request, exception=None):
    if _is_api(request):
        return api_error("forbidden", _("You do not have permission to do this."), 403)
    return defaults.permission_denied(request, exception)


def page_not_found(request, exception=None):
    if _is_api(request):
        return api_not_found(request)
    return defaults.page_not_found(request, exception)


def server_error(request):
    if _is_api(request):
        return api_error("server_error", _("Something went wrong on our side; the request can be retried."), 500)
    return defaults.server_error(request)


def privacy(request):
    """The service's own privacy notice (each request's organisation gives its notice on the request page)."""
    return render(request, "privacy.html")
