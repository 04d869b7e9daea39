"""Webhook delivery (Standard Webhooks) from the outbox.

Each attempt POSTs the event's JSON payload with three headers (https://www.standardwebhooks.com/):
``webhook-id`` (the event id, stable across retries, so receivers can drop duplicates),
``webhook-timestamp`` (unix seconds of this attempt) and ``webhook-signature``:
``v1,`` + base64(HMAC-SHA256(secret bytes, f"{id}.{timestamp}.{body}")). The secret reads
``whsec_<base64>``; the HMAC key is the base64-decoded part.

Delivery is at least once. An attempt is claimed in one short transaction (attempt number bumped,
next attempt pushed out, so a second worker finds nothing due), sent with no transaction open, and
its outcome recorded in another. A failed attempt is retried with exponential back-off (30 s, 1 min,
2 min … at most an hour apart) until 72 hours after the event was written, then the event is FAILED:
a receiver down for a day or a weekend still gets everything afterwards.
No task sleeps or counts down: the next attempt time lives on the event and `events_sweep`, run every
minute by beat, queues whatever is due, which also covers events whose first queueing failed.

Events of one consent are delivered in the order they were written: an event waits while an earlier
event of the same consent is still pending (so a receiver never learns of a withdrawal before the grant
it withdraws), and goes out as soon as that one is acknowledged or given up.
"""

import base64
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Mapping
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import httpx
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

import audit
from consent.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from consent.netguard import AddressRefused, PinnedTransport, resolve_public
from identity.crypto import DecryptionError, decrypt
from identity.queueing import enqueue_on_commit

logger = logging.getLogger(__name__)

SECRET_PREFIX = "whsec_"  # noqa: S105 (a format marker, not a secret)
SECRET_CONTEXT = "webhook_secret"  # noqa: S105 (the encryption context of WebhookEndpoint.secret_enc)
FIRST_RETRY_DELAY = timedelta(seconds=30)
MAX_RETRY_DELAY = timedelta(hours=1)
RETRY_WINDOW = timedelta(hours=72)
SWEEP_BATCH = 1000
ERROR_CHARS = 300
USER_AGENT = "likeness-consent-webhooks/1"
# What a delivery log may say besides "HTTP <status>": fixed words, translated where they are shown.
ERROR_UNREACHABLE = "unreachable"
ERROR_TIMEOUT = "timed out"
ERROR_NOT_PUBLIC = "address not allowed"
ERROR_UNRESOLVABLE = "host not found"
ERROR_SECRET = "secret unavailable"  # noqa: S105 (a log word, not a secret)


def _timeout() -> float:
    return float(getattr(settings, "WEBHOOK_TIMEOUT", 10))


def retry_delay(attempt: int) -> timedelta:
    """Wait after failed attempt number `attempt` (1-based): 30 s doubling per attempt, capped at an hour."""
    return min(FIRST_RETRY_DELAY * 2 ** min(attempt - 1, 16), MAX_RETRY_DELAY)


def body_bytes(payload: dict) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _secret_bytes(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def signature(secret: str, msg_id: str, timestamp: str, body: bytes) -> str:
    """The `webhook-signature` value for one message: "v1," + base64 of the HMAC-SHA256."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(_secret_bytes(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def webhook_signature_verify(secret: str, headers: Mapping, body: bytes, tolerance: int = 300) -> bool:
    """What a receiver does with a delivery before trusting it (Standard Webhooks).

    Take the raw body bytes as received (not re-serialised JSON), refuse a timestamp more than
    `tolerance` seconds away from the receiver's clock (replay window), recompute the signature over
    "{webhook-id}.{webhook-timestamp}.{body}" and compare it in constant time with each of the
    space-separated `v1,` signatures in the header (there are several while a secret is rotated).
    Receivers should also drop a `webhook-id` they have already processed: delivery is at least once.
    """
    lowered = {str(key).lower(): value for key, value in headers.items()}
    msg_id = lowered.get("webhook-id")
    timestamp = lowered.get("webhook-timestamp")
    signatures = lowered.get("webhook-signature")
    if not (msg_id and timestamp and signatures):
        return False
    try:
        sent_at = int(timestamp)
        expected = signature(secret, msg_id, timestamp, body).partition(",")[2]
    except ValueError:  # a timestamp that is not a number or a secret that is not base64
        return False
    if abs(time.time() - sent_at) > tolerance:
        return False
    for candidate in signatures.split():
        version, _, value = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(value.encode(), expected.encode()):
            return True
    return False


def _consent_of(event: WebhookEvent) -> int | None:
    data = event.payload.get("data") if isinstance(event.payload, dict) else None
    return data.get("consent_id") if isinstance(data, dict) else None


def _same_consent_pending(event: WebhookEvent):
    """The other pending events of the event's consent (none for an event about no consent)."""
    consent_id = _consent_of(event)
    if consent_id is None:
        return WebhookEvent.objects.none()
    return WebhookEvent.objects.filter(
        organization_id=event.organization_id, state=WebhookEvent.State.PENDING, payload__data__consent_id=consent_id
    ).exclude(pk=event.pk)


def _attempt_claim(event_id: int, now: datetime | None = None) -> tuple[WebhookEvent, WebhookEndpoint] | None:
    """Take the next attempt of a due event, or None if there is nothing to send (now or by us)."""
    now = now or timezone.now()
    with transaction.atomic():
        # skip_locked: another worker holding the row is claiming or recording this very event.
        event = WebhookEvent.objects.select_for_update(skip_locked=True).filter(pk=event_id).first()
        if event is None or event.state != WebhookEvent.State.PENDING:
            return None  # delivered, given up, no endpoint, or locked by another worker: nothing to do
        if event.next_attempt_at is not None and event.next_attempt_at > now:
            return None  # not due, or already claimed by another worker
        earlier = _same_consent_pending(event).filter(pk__lt=event.pk).order_by("-next_attempt_at").first()
        if earlier is not None:
            # An earlier event of this consent goes first, and settling it sends this one on at once. Until
            # then this one is not due: the sweep does not queue it every minute, nor let it crowd others out.
            ahead = earlier.next_attempt_at
            event.next_attempt_at = ahead if ahead is not None and ahead > now else now + FIRST_RETRY_DELAY
            event.save(update_fields=["next_attempt_at"])
            return None
        endpoint = WebhookEndpoint.objects.filter(organization_id=event.organization_id).first()
        if endpoint is None:
            event.state = WebhookEvent.State.NO_ENDPOINT
            event.next_attempt_at = None
            event.save(update_fields=["state", "next_attempt_at"])
            return None
        event.attempts += 1
        # If this worker dies mid-send, the sweep retries at this time; it must outlast one HTTP call.
        lease = timedelta(seconds=3 * _timeout())
        event.next_attempt_at = now + max(retry_delay(event.attempts), lease)
        event.save(update_fields=["attempts", "next_attempt_at"])
    return event, endpoint


def _send(event: WebhookEvent, url: str, secret_enc: str) -> tuple[int | None, str, int]:
    """POST one attempt. Returns (status code or None, error text, duration in ms). No transaction here."""
    started = time.monotonic()
    try:
        secret = decrypt(secret_enc, context=SECRET_CONTEXT)
    except DecryptionError as exc:
        logger.error("webhook %s: the endpoint secret cannot be decrypted: %s", event.event_id, exc)
        return None, ERROR_SECRET, 0
    body = body_bytes(event.payload)
    timestamp = str(int(timezone.now().timestamp()))
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": USER_AGENT,
        "webhook-id": event.event_id,
        "webhook-timestamp": timestamp,
        "webhook-signature": signature(secret, event.event_id, timestamp, body),
    }
    status_code, error = None, ""
    parts = urlsplit(url)
    try:
        # Checked again at every attempt: the name may point elsewhere since the URL was saved.
        address = resolve_public(parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80))[0]
        transport = PinnedTransport(address)
        # Redirects are not followed: a 3xx counts as a failure, so a signed event never lands elsewhere.
        with httpx.Client(transport=transport, timeout=_timeout(), follow_redirects=False) as client:
            response = client.post(url, content=body, headers=headers)
        status_code = response.status_code
        if not response.is_success:
            error = f"HTTP {status_code}"
    except AddressRefused as exc:
        error = ERROR_NOT_PUBLIC if exc.reason == "not_public" else ERROR_UNRESOLVABLE
    except httpx.TimeoutException:
        error = ERROR_TIMEOUT
    except (httpx.HTTPError, OSError, ValueError) as exc:
        # The log the customer sees says "unreachable"; the exception text (addresses, TLS details of
        # the platform's network) stays in the platform's own log.
        logger.info("webhook %s to %s: %s: %s", event.event_id, url, type(exc).__name__, exc)
        error = ERROR_UNREACHABLE
    duration_ms = int((time.monotonic() - started) * 1000)
    return status_code, error[:ERROR_CHARS], duration_ms


def _attempt_record(
    *,
    event_id: int,
    attempt: int,
    url: str,
    status_code: int | None,
    error: str,
    duration_ms: int,
    now: datetime | None = None,
) -> str:
    now = now or timezone.now()
    with transaction.atomic():
        event = WebhookEvent.objects.select_for_update().get(pk=event_id)
        WebhookDelivery.objects.create(
            event=event, attempt=attempt, url=url, status_code=status_code, error=error, duration_ms=duration_ms
        )
        if status_code is not None and 200 <= status_code < 300:
            if event.state != WebhookEvent.State.DELIVERED:
                event.state = WebhookEvent.State.DELIVERED
                event.delivered_at = now
                event.next_attempt_at = None
                event.save(update_fields=["state", "delivered_at", "next_attempt_at"])
                _next_of_consent_release(event, now)
            return event.state
        if event.state != WebhookEvent.State.PENDING or event.attempts != attempt:
            return event.state  # resent or claimed again meanwhile: the newer attempt decides what follows
        deadline = event.created_at + RETRY_WINDOW
        if now >= deadline:
            event.state = WebhookEvent.State.FAILED
            event.next_attempt_at = None
            event.save(update_fields=["state", "next_attempt_at"])
            _next_of_consent_release(event, now)
            audit.record(
                "webhooks",
                "webhook.failed",
                event,
                {
                    "organization": event.organization_id,
                    "event_id": event.event_id,
                    "type": event.type,
                    "attempts": event.attempts,
                    "last_error": error,
                },
            )
        else:
            event.next_attempt_at = min(now + retry_delay(attempt), deadline)
            event.save(update_fields=["next_attempt_at"])
    return event.state


def _next_of_consent_release(event: WebhookEvent, now: datetime) -> None:
    """In the transaction that settles `event`: the consent's next pending event is due now, and queued on commit.

    The receiver has just answered (or the earlier event was given up): the next one need not wait out its
    own back-off, which ran while it was held back.
    """
    following = _same_consent_pending(event).filter(pk__gt=event.pk).order_by("pk").first()
    if following is None:
        return
    if following.next_attempt_at is None or following.next_attempt_at > now:
        following.next_attempt_at = now
        following.save(update_fields=["next_attempt_at"])
    from consent.tasks import webhook_deliver_task  # consent.tasks imports this module: a cycle

    enqueue_on_commit(webhook_deliver_task, following.pk, now.isoformat())


def event_deliver(*, event_id: int, now: datetime | None = None) -> str | None:
    """Make the next attempt to deliver one outbox event, if it is due. Idempotent.

    Returns the event's state afterwards, or None when there was nothing to do. `now` is the time the
    attempt counts as made at (the sweep's time; the clock by default).
    """
    now = now or timezone.now()
    claimed = _attempt_claim(event_id, now)
    if claimed is None:
        return None
    event, endpoint = claimed
    status_code, error, duration_ms = _send(event, endpoint.url, endpoint.secret_enc)
    if error:
        logger.warning("webhook %s attempt %d to %s failed: %s", event.event_id, event.attempts, endpoint.url, error)
    return _attempt_record(
        event_id=event.pk,
        attempt=event.attempts,
        url=endpoint.url,
        status_code=status_code,
        error=error,
        duration_ms=duration_ms,
        now=now,
    )


def events_sweep(*, now: datetime | None = None) -> int:
    """Queue delivery of pending events whose next attempt is due (covers a broker outage). Returns how many.

    An explicit `now` is handed to the queued attempts, so that they count as made at that time too.
    """
    from consent.tasks import webhook_deliver_task  # consent.tasks imports this module: a cycle

    at = now.isoformat() if now else None
    now = now or timezone.now()
    due = (
        WebhookEvent.objects.filter(state=WebhookEvent.State.PENDING)
        .filter(Q(next_attempt_at__lte=now) | Q(next_attempt_at__isnull=True))
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    event_ids = list(due)
    for event_id in event_ids:
        if at:
            webhook_deliver_task.delay(event_id, at)
        else:
            webhook_deliver_task.delay(event_id)
    return len(event_ids)
