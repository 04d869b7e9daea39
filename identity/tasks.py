from celery import shared_task
from django.template.loader import render_to_string
from django.utils import timezone, translation

from identity.gateway import GatewayUnavailable
from identity.models import PhoneDevice
from identity.sms import sms_send


@shared_task(bind=True, autoretry_for=(GatewayUnavailable,), retry_backoff=2, retry_backoff_max=60, max_retries=5)
def sms_code_deliver_task(self, device_id: int):
    """Send the device's current code, if it is still valid (a newer code supersedes this one)."""
    device = PhoneDevice.objects.filter(pk=device_id).first()
    if device is None or not device.token or (device.valid_until and device.valid_until < timezone.now()):
        return None
    purpose, _, digest = device.bound_to.partition(":")
    template = "sms/grant_code.txt" if purpose == "grant" else "sms/signin_code.txt"
    with translation.override("zh-hans"):
        text = render_to_string(template, {"code": device.token, "digest": digest}).strip()
    return sms_send(phone=device.phone, text=text)
