"""Webhook outbox: events are written in the transaction of the change they describe."""

import base64
import secrets
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

import audit
from consent.errors import InvalidRequest
from consent.models import WebhookEndpoint, WebhookEvent
from consent.netguard import AddressRefused, resolve_public
from consent.webhooks import SECRET_CONTEXT, SECRET_PREFIX
from identity.crypto import encrypt
from identity.models import Organization
from identity.queueing import enqueue_on_commit

__all__ = ["webhook_endpoint_delete", "webhook_endpoint_set", "webhook_event_add", "webhook_event_resend"]


def webhook_event_add(*, organization: Organization, type: str, payload: dict) -> WebhookEvent:
    """Add an event to the outbox; delivery starts after commit (and is retried from the outbox if that fails)."""
    event = WebhookEvent.objects.create(
        organization=organization,
        event_id=f"msg_{secrets.token_hex(12)}",
        type=type,
        payload={"type": type, "timestamp": timezone.now().isoformat(), "data": payload},
        next_attempt_at=timezone.now(),
    )
    from consent.tasks import webhook_deliver_task  # consent.tasks imports this module: a cycle

    enqueue_on_commit(webhook_deliver_task, event.pk)  # pending in the outbox until delivered; swept if lost
    return event


# ---- endpoints and "send again" (back-office) ---------------------------------------------------


def _secret_generate() -> str:
    """A Standard Webhooks secret: "whsec_" + base64 of 32 random bytes (the HMAC key)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _url_errors(url: str) -> list[str]:
    """Why a webhook URL is refused (empty when it is fine). The address is checked again at every delivery."""
    schemes = ["http", "https"] if settings.DEBUG else ["https"]
    try:
        URLValidator(schemes=["http", "https"])(url)
    except ValidationError:
        return [str(_("Enter a full URL, such as https://example.com/webhooks/consent."))]
    errors = []
    parts = urlsplit(url)
    if parts.scheme not in schemes:
        errors.append(str(_("The URL must start with https:// so events and their signatures travel encrypted.")))
    if parts.username is not None or parts.password is not None:
        errors.append(
            str(
                _(
                    "Remove the user name and password from the URL. Deliveries are authenticated by the "
                    "webhook-signature header, which your endpoint checks with the signing secret."
                )
            )
        )
    try:
        resolve_public(parts.hostname or "", parts.port or 443)
    except AddressRefused as exc:
        if exc.reason == "not_public":
            errors.append(str(_("The URL must point to a public address, not localhost or a private network.")))
        else:
            errors.append(str(_("The host name of the URL cannot be found. Check the spelling.")))
    except ValueError:  # a port out of range
        errors.append(str(_("Enter a full URL, such as https://example.com/webhooks/consent.")))
    if len(url) > WebhookEndpoint._meta.get_field("url").max_length:
        errors.append(str(_("The URL is too long (at most 500 characters).")))
    return errors


def webhook_endpoint_set(
    *, actor, organization: Organization, url: str, rotate_secret: bool = False
) -> tuple[WebhookEndpoint, str]:
    """Set the organisation's webhook URL (creating the endpoint if needed).

    Returns the endpoint and the plaintext signing secret when one was generated (on creation or with
    `rotate_secret=True`), else "". The secret is stored encrypted and cannot be shown again.
    """
    url = url.strip()
    errors = _url_errors(url)  # resolves the name: outside the transaction, which holds a lock
    if errors:
        raise InvalidRequest(_("The webhook URL cannot be used."), fields={"url": errors})
    return _endpoint_save(actor=actor, organization=organization, url=url, rotate_secret=rotate_secret)


@transaction.atomic
def _endpoint_save(*, actor, organization: Organization, url: str, rotate_secret: bool) -> tuple[WebhookEndpoint, str]:
    Organization.objects.select_for_update().get(pk=organization.pk)  # one endpoint per organisation, no race
    endpoint = WebhookEndpoint.objects.filter(organization=organization).first()
    secret = _secret_generate() if endpoint is None or rotate_secret else ""
    if endpoint is None:
        endpoint = WebhookEndpoint.objects.create(
            organization=organization, url=url, secret_enc=encrypt(secret, context=SECRET_CONTEXT)
        )
        audit.record(actor, "webhook_endpoint.create", endpoint, {"organization": organization.pk, "url": url})
        return endpoint, secret
    data = {"organization": organization.pk, "url": url, "previous_url": endpoint.url, "secret_rotated": bool(secret)}
    endpoint.url = url
    fields = ["url", "updated_at"]
    if secret:
        endpoint.secret_enc = encrypt(secret, context=SECRET_CONTEXT)
        fields.append("secret_enc")
    endpoint.save(update_fields=fields)
    audit.record(actor, "webhook_endpoint.update", endpoint, data)
    return endpoint, secret


@transaction.atomic
def webhook_endpoint_delete(*, actor, organization: Organization) -> None:
    """Remove the organisation's endpoint; pending events then end as NO_ENDPOINT (and can be sent again later)."""
    endpoint = WebhookEndpoint.objects.select_for_update().filter(organization=organization).first()
    if endpoint is None:
        return
    url = endpoint.url
    endpoint.delete()
    audit.record(actor, "webhook_endpoint.delete", None, {"organization": organization.pk, "url": url})


@transaction.atomic
def webhook_event_resend(*, actor, organization: Organization, event_id: int) -> WebhookEvent:
    """The back-office "send again": attempt delivery now (the retry schedule continues if it fails).

    Only an event of `organization`; any other id raises WebhookEvent.DoesNotExist (a 404 for views).
    An event older than the 24-hour retry window gets this one attempt before it is FAILED again.
    """
    event = WebhookEvent.objects.select_for_update().get(pk=event_id, organization=organization)
    previous_state = event.state
    event.state = WebhookEvent.State.PENDING
    event.next_attempt_at = timezone.now()
    event.delivered_at = None
    event.save(update_fields=["state", "next_attempt_at", "delivered_at"])
    audit.record(
        actor,
        "webhook_event.resend",
        event,
        {"organization": organization.pk, "event_id": event.event_id, "previous_state": previous_state},
    )
    from consent.tasks import webhook_deliver_task  # consent.tasks imports this module: a cycle

    enqueue_on_commit(webhook_deliver_task, event.pk)
    return event
