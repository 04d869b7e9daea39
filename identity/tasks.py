import logging
from datetime import UTC, datetime, timedelta

from celery import shared_task
from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone, translation

from identity.gateway import GatewayRejected, GatewayUnavailable, retry_later
from identity.models import PhoneDevice
from identity.sms import sms_send

logger = logging.getLogger(__name__)

# A code is valid for five minutes (SMS_CODE_VALID_SECONDS), so back-off starts short and stays short;
# a retry that finds the code expired or superseded sends nothing.
CODE_RETRY_BASE_SECONDS = 2
CODE_RETRY_CAP_SECONDS = 60


def sms_code_idempotency_key(device: PhoneDevice) -> str:
    """The key the SMS gateway dedupes a code's message on: one per code, the same on every retry.

    A code is the device's token until the next one replaces it, and every new code moves the moment it
    expires (`valid_until`, to the microsecond; codes are at least the send cooldown apart): so the pair
    names one code without carrying it.
    """
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return f"sms-code-{device.pk}-{(device.valid_until - epoch) // timedelta(microseconds=1)}"


@shared_task(bind=True)
def sms_code_deliver_task(self, device_id: int, subject: str = "", key: str = ""):
    """Send the code `key` names (sms_code_idempotency_key), if it is still valid and still the device's code.

    A newer code supersedes this one: its own task sends it, with its own subject, so this one sends nothing.
    (A task queued without a key, before keys existed, sends the device's current code.)
    The gateway makes one attempt per call; this task owns the retries: with back-off on a temporary
    failure, up to SMS_CODE_DELIVER_MAX_RETRIES times, and never on a refusal, which no retry can fix.
    """
    device = PhoneDevice.objects.filter(pk=device_id).first()
    if device is None or not device.token or (device.valid_until and device.valid_until < timezone.now()):
        return None
    if key and key != sms_code_idempotency_key(device):
        return None
    purpose, _, digest = device.bound_to.partition(":")
    template = "sms/grant_code.txt" if purpose == "grant" else "sms/signin_code.txt"
    with translation.override("zh-hans"):
        text = render_to_string(template, {"code": device.token, "digest": digest, "subject": subject}).strip()
    try:
        return sms_send(phone=device.phone, text=text, idempotency_key=sms_code_idempotency_key(device))
    except GatewayRejected as exc:
        logger.error("SMS gateway refused the code for device %s: HTTP %s %s", device_id, exc.status, exc.body)
        return None
    except GatewayUnavailable as exc:
        raise retry_later(
            self,
            exc,
            base=CODE_RETRY_BASE_SECONDS,
            cap=CODE_RETRY_CAP_SECONDS,
            max_retries=settings.SMS_CODE_DELIVER_MAX_RETRIES,
        ) from exc
