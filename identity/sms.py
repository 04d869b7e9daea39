"""SMS gateways. The outbox backend is for development only; production names an HTTP gateway."""

from django.conf import settings
from django.utils.module_loading import import_string


class OutboxSmsBackend:
    """Development backend: writes the message to the dev outbox instead of sending it."""

    def send(self, *, phone: str, text: str) -> str:
        from identity.services import outbox_message_add

        message = outbox_message_add(channel="sms", to=phone, body=text)
        return f"outbox-{message.pk}"


def sms_backend():
    return import_string(settings.SMS_BACKEND)()


def sms_send(*, phone: str, text: str) -> str:
    """Send one SMS through the configured gateway; returns the gateway's message reference."""
    return sms_backend().send(phone=phone, text=text)
