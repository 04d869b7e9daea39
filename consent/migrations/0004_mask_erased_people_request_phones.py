"""Requests of people who deleted their account before phones were masked on deletion: mask them now.

A phone number is recycled by the carrier; left in clear, the next holder of the number would match these
requests. Irreversible by nature (the number is gone), so the reverse leaves the masked form in place.
"""

from django.db import migrations


def _mask_phone(phone: str) -> str:
    return phone[:-8] + "****" + phone[-4:] if len(phone) >= 8 else "*" * len(phone)


def forward(apps, schema_editor):
    ConsentRequest = apps.get_model("consent", "ConsentRequest")
    for request in ConsentRequest.objects.filter(person__erased_at__isnull=False).exclude(person_phone__contains="*"):
        request.person_phone = _mask_phone(request.person_phone)
        request.person_email = ""
        request.save(update_fields=["person_phone", "person_email"])


def reverse(apps, schema_editor):
    """Nothing to restore: the masked number is all that may be kept of an erased person's phone."""


class Migration(migrations.Migration):
    dependencies = [
        ("consent", "0003_consent_public_id"),
        ("identity", "0005_identity_data_minimised"),
    ]

    operations = [migrations.RunPython(forward, reverse)]
