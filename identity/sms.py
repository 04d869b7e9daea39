"""SMS gateways. The outbox backend is for development only; production names an HTTP gateway."""

from django.conf import settings
from django.utils.module_loading import import_string

from identity.crypto import mask_phone
from identity.gateway import GatewayRejected, required_setting, signed_post

# The operators module, not the package: identity.services imports identity.tasks on the way to
# sending a code, and identity.tasks imports this module.
from identity.services.operators import outbox_message_add


class OutboxSmsBackend:
    """Development backend: writes the message to the dev outbox instead of sending it."""

    def send(self, *, phone: str, text: str, idempotency_key: str = "") -> str:
        # One process writes and records in development, so there is no retry to dedupe.
        # Masked: the outbox is a log of what was sent, not a second copy of who can be reached.
        message = outbox_message_add(channel="sms", to=mask_phone(phone), body=text)
        return f"outbox-{message.pk}"


class HttpSmsBackend:
    """Production backend: the signed HTTP SMS gateway (see ``identity.gateway``).

    One attempt per call. Raises ``GatewayUnavailable`` when the gateway is down, so the calling task
    retries later with back-off, and ``GatewayRejected`` when it refuses the message, which no retry can fix.
    """

    def send(self, *, phone: str, text: str, idempotency_key: str = "") -> str:
        payload = {"to": phone, "text": text}
        if idempotency_key:
            payload["idempotency_key"] = idempotency_key
        answer = signed_post(
            url=required_setting("SMS_HTTP_URL"),
            app_id=required_setting("SMS_HTTP_APP_ID"),
            secret=required_setting("SMS_HTTP_SECRET"),
            payload=payload,
            timeout=float(getattr(settings, "SMS_HTTP_TIMEOUT", 5)),
        )
        if not answer.get("message_id"):
            raise GatewayRejected(200, f"no message_id in the answer: {answer}")
        return str(answer["message_id"])


def sms_backend():
    return import_string(settings.SMS_BACKEND)()


def sms_send(*, phone: str, text: str, idempotency_key: str = "") -> str:
    """Send one SMS through the configured gateway; returns the gateway's message reference.

    Pass an ``idempotency_key`` (stable across retries of the same message) wherever a retry may follow a
    send whose outcome was not recorded; the gateway then delivers the message at most once per key.
    """
    return sms_backend().send(phone=phone, text=text, idempotency_key=idempotency_key)
