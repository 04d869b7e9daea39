"""Process health, readiness and the start page."""

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from kombu import Connection


@require_GET
@never_cache
def healthz(request):
    return JsonResponse({"status": "ok"})


def _database_ok() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # any failure means "not ready"; name it for the operator
        return f"{type(exc).__name__}: {exc}"[:300]
    return None


def _broker_ok() -> str | None:
    if not settings.CELERY_BROKER_URL:
        return None  # tasks run eagerly in-process
    try:
        with Connection(settings.CELERY_BROKER_URL, connect_timeout=2) as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=2)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"[:300]
    return None


@require_GET
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
