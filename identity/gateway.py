"""Signed JSON over HTTP: the one way we talk to outside gateways (real-name checks, SMS).

Each request carries ``X-App-Id``, ``X-Timestamp`` (unix seconds), ``X-Nonce`` and ``X-Signature``,
the hex HMAC-SHA256 of ``"{timestamp}\\n{nonce}\\n"`` followed by the exact body bytes.

One call is one HTTP attempt and never sleeps: this adapter runs inside web requests (the real-name
check), where a retry loop would hold a worker and the person's page hostage. It only sorts failures
into temporary (``GatewayUnavailable``: connection error, timeout, 5xx, 429), which a Celery task may
retry later with back-off, and permanent (``GatewayRejected``: any other 4xx, a redirect, a body that is
not a JSON object), which sending the same request again cannot fix. Retries belong to the tasks.
"""

import hashlib
import hmac
import json
import logging
import secrets
import time

import httpx
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

logger = logging.getLogger(__name__)

TEMPORARY_STATUSES = frozenset({429}) | frozenset(range(500, 600))
BODY_EXCERPT_CHARS = 500


class GatewayUnavailable(Exception):
    """Temporary: the gateway could not be reached, timed out or was overloaded; a later try may succeed."""

    code = "gateway_unavailable"

    def __init__(self, reason: str, *, retry_after: float | None = None):
        super().__init__(reason)
        self.reason = reason
        # The gateway's own Retry-After (429/503), in seconds, for a task to wait at least that long.
        self.retry_after = retry_after


class GatewayRejected(Exception):
    """Permanent: the gateway refused the request (4xx) or answered something that is not a JSON object.

    Retrying the same request cannot help: this is a configuration or contract problem on our side.
    """

    code = "gateway_rejected"

    def __init__(self, status: int, body: str):
        super().__init__(f"HTTP {status}: {body}")
        self.status = status
        self.body = body


def required_setting(name: str):
    """A setting an HTTP adapter cannot work without, read at call time."""
    value = getattr(settings, name, None)
    if value in (None, ""):
        raise ImproperlyConfigured(f"{name} is not set; the HTTP gateway backend needs it.")
    return value


def sign(secret: str, timestamp: str, nonce: str, body: bytes) -> str:
    message = f"{timestamp}\n{nonce}\n".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify_signature(secret: str, timestamp: str, nonce: str, body: bytes, signature: str) -> bool:
    """What a gateway does on receipt: recompute the HMAC and compare in constant time.

    A real gateway also rejects stale timestamps and nonces it has seen before (replay protection).
    """
    return hmac.compare_digest(sign(secret, str(timestamp), nonce, body), signature)


def encode_body(payload: dict) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _signed_headers(app_id: str, secret: str, body: bytes) -> dict:
    # Fresh timestamp and nonce per call, so a task's retry is not mistaken for a replay.
    timestamp = str(int(time.time()))
    nonce = secrets.token_hex(16)
    return {
        "Content-Type": "application/json; charset=utf-8",
        "X-App-Id": app_id,
        "X-Timestamp": timestamp,
        "X-Nonce": nonce,
        "X-Signature": sign(secret, timestamp, nonce, body),
    }


def _parse(response: httpx.Response) -> dict:
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        raise GatewayRejected(response.status_code, response.text[:BODY_EXCERPT_CHARS])
    return answer


def _retry_after(response: httpx.Response) -> float | None:
    try:
        seconds = float(response.headers.get("Retry-After", ""))
    except ValueError:
        return None  # absent, or an HTTP date: the task's own back-off applies
    return seconds if seconds >= 0 else None


def signed_post(*, url: str, app_id: str, secret: str, payload: dict, timeout: float) -> dict:
    """POST ``payload`` as signed JSON, once, and return the JSON object the gateway answers.

    Raises ``GatewayUnavailable`` for a temporary failure and ``GatewayRejected`` for a permanent one;
    never retries and never sleeps (see the module docstring).
    """
    body = encode_body(payload)
    try:
        with httpx.Client(timeout=timeout) as client:
            response = client.post(url, content=body, headers=_signed_headers(app_id, secret, body))
    except httpx.TimeoutException as exc:
        logger.warning("gateway %s: timeout after %ss", url, timeout)
        raise GatewayUnavailable("timeout") from exc
    except httpx.TransportError as exc:
        logger.warning("gateway %s: connection failed (%s)", url, type(exc).__name__)
        raise GatewayUnavailable(f"connection failed ({type(exc).__name__})") from exc
    if response.status_code in TEMPORARY_STATUSES:
        logger.warning("gateway %s: HTTP %d", url, response.status_code)
        raise GatewayUnavailable(f"HTTP {response.status_code}", retry_after=_retry_after(response))
    if not response.is_success:
        raise GatewayRejected(response.status_code, response.text[:BODY_EXCERPT_CHARS])
    return _parse(response)


def retry_countdown(retries: int, *, base: float, cap: float, retry_after: float | None = None) -> float:
    """Seconds a task waits before retry number ``retries + 1``: exponential from ``base``, at most ``cap``.

    A gateway's Retry-After is honoured (up to ``cap``) when it asks for longer than our own back-off.
    """
    countdown = min(base * 2**retries, cap)
    if retry_after is not None:
        countdown = max(countdown, min(retry_after, cap))
    return countdown


def retry_later(task, exc: GatewayUnavailable, *, base: float, cap: float, max_retries: int):
    """The retry a bound Celery task raises after a temporary gateway failure, with its back-off countdown."""
    countdown = retry_countdown(task.request.retries, base=base, cap=cap, retry_after=exc.retry_after)
    return task.retry(exc=exc, countdown=countdown, max_retries=max_retries)
