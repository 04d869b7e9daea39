"""Signed JSON over HTTP: the one way we talk to outside gateways (real-name checks, SMS).

Each request carries ``X-App-Id``, ``X-Timestamp`` (unix seconds), ``X-Nonce`` and ``X-Signature``,
the hex HMAC-SHA256 of ``"{timestamp}\\n{nonce}\\n"`` followed by the exact body bytes. Transient
failures (connection errors, timeouts, 5xx, 429) are retried with a short, bounded back-off; a 4xx
is never retried because sending the same request again cannot fix it.
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

# Seconds to wait before retry n is BACKOFF_SECONDS * n, and never more than BACKOFF_BUDGET_SECONDS in all.
BACKOFF_SECONDS = 0.2
BACKOFF_BUDGET_SECONDS = 2.0
RETRYABLE_STATUSES = frozenset({429}) | frozenset(range(500, 600))
BODY_EXCERPT_CHARS = 500


class GatewayUnavailable(Exception):
    """The gateway could not be reached or kept failing; trying again later may succeed."""

    code = "gateway_unavailable"

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class GatewayRejected(Exception):
    """The gateway refused the request (4xx) or answered something that is not a JSON object.

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
    # Fresh timestamp and nonce per attempt, so a retry is not mistaken for a replay.
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


def signed_post(*, url: str, app_id: str, secret: str, payload: dict, timeout: float, retries: int) -> dict:
    """POST ``payload`` as signed JSON and return the JSON object the gateway answers.

    Raises ``GatewayUnavailable`` once ``retries`` further attempts have failed transiently, and
    ``GatewayRejected`` at once for a 4xx, a redirect or a body that is not a JSON object.
    """
    body = encode_body(payload)
    attempts = max(retries, 0) + 1
    slept = 0.0
    with httpx.Client(timeout=timeout) as client:
        for attempt in range(1, attempts + 1):
            try:
                response = client.post(url, content=body, headers=_signed_headers(app_id, secret, body))
            except httpx.TimeoutException:
                cause = "timeout"
            except httpx.TransportError as exc:
                cause = f"connection failed ({type(exc).__name__})"
            else:
                if response.status_code not in RETRYABLE_STATUSES:
                    if not response.is_success:
                        raise GatewayRejected(response.status_code, response.text[:BODY_EXCERPT_CHARS])
                    return _parse(response)
                cause = f"HTTP {response.status_code}"
            logger.warning("gateway %s: %s on attempt %d of %d", url, cause, attempt, attempts)
            if attempt < attempts:
                pause = min(BACKOFF_SECONDS * attempt, max(BACKOFF_BUDGET_SECONDS - slept, 0.0))
                time.sleep(pause)
                slept += pause
    raise GatewayUnavailable(f"{cause} after {attempts} attempt{'s' if attempts > 1 else ''}")
