import logging

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


@shared_task(bind=True)
def sms_code_deliver_task(self, device_id: int, subject: str = ""):
    """Send the device's current code, if it is still valid (a newer code supersedes this one).

    The gateway makes one attempt per call; this task owns the retries: with back-off on a temporary
    failure, up to SMS_CODE_DELIVER_MAX_RETRIES times, and never on a refusal, which no retry can fix.
    """
    device = PhoneDevice.objects.filter(pk=device_id).first()
    if device is None or not device.token or (device.valid_until and device.valid_until < timezone.now()):
        return None
    purpose, _, digest = device.bound_to.partition(":")
    template = "sms/grant_code.txt" if purpose == "grant" else "sms/signin_code.txt"
    with translation.override("zh-hans"):
        text = render_to_string(template, {"code": device.token, "digest": digest, "subject": subject}).strip()
    try:
        return sms_send(phone=device.phone, text=text)
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
