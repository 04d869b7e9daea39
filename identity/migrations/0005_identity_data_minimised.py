"""PIPL Art. 51: no combination of plaintext columns may rebuild an ID number or reach a phone.

Forward: ID masks narrow to first + last character (computed from the old mask, no key needed), the
plaintext birth dates go (age is derived from the encrypted ID when a rule needs it), the SMS ledger keeps
a blind index instead of the phone, and the dev outbox keeps masked numbers.

Reverse: birth dates and the old masks are rebuilt by decrypting the ID numbers (rows erased since have
none to rebuild from). Phones in the ledger and the outbox cannot be rebuilt; they stay masked/empty.
The crypto is spelled out here rather than imported, as migrations never import app code.
"""

import base64
import hashlib
import hmac
from datetime import date

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.db import migrations, models

# The old schema demanded a birth date on every guardian; an erased one has no ID left to read it from.
UNKNOWN_BIRTH_DATE = date(1900, 1, 1)


def _narrow(mask: str) -> str:
    return mask[0] + "*" * (len(mask) - 2) + mask[-1] if len(mask) >= 2 else mask


def _mask_phone(phone: str) -> str:
    return phone[:-8] + "****" + phone[-4:] if len(phone) >= 8 else "*" * len(phone)


def _decrypt(token: str, context: str) -> str:
    keys = {}
    for entry in settings.PII_ENCRYPTION_KEYS:
        kid, _sep, b64 = entry.partition(":")
        keys[kid] = base64.b64decode(b64)
    kid, _sep, b64 = token.partition(":")
    raw = base64.b64decode(b64)
    return AESGCM(keys[kid]).decrypt(raw[:12], raw[12:], context.encode()).decode()


def forward(apps, schema_editor):
    Person = apps.get_model("identity", "Person")
    Guardian = apps.get_model("identity", "Guardian")
    SmsSend = apps.get_model("identity", "SmsSend")
    OutboxMessage = apps.get_model("identity", "OutboxMessage")
    for model in (Person, Guardian):
        for row in model.objects.exclude(id_number_masked=""):
            row.id_number_masked = _narrow(row.id_number_masked)
            row.save(update_fields=["id_number_masked"])
    index_key = base64.b64decode(settings.PII_INDEX_KEY)
    for send in SmsSend.objects.all():
        send.phone_index = hmac.new(index_key, f"phone:{send.phone}".encode(), hashlib.sha256).hexdigest()
        send.save(update_fields=["phone_index"])
    for message in OutboxMessage.objects.filter(channel="sms"):
        message.to = _mask_phone(message.to)
        message.save(update_fields=["to"])


def reverse(apps, schema_editor):
    for name, context in (("Person", "person.id_number"), ("Guardian", "guardian.id_number")):
        for row in apps.get_model("identity", name).objects.all():
            number = _decrypt(row.id_number_enc, context) if row.id_number_enc else ""
            if number:
                row.id_number_masked = number[:6] + "*" * (len(number) - 10) + number[-4:]
                row.birth_date = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
            elif name == "Guardian":
                row.birth_date = UNKNOWN_BIRTH_DATE
            row.save(update_fields=["id_number_masked", "birth_date"])


class Migration(migrations.Migration):
    dependencies = [
        ("identity", "0004_person_erased_at"),
    ]

    operations = [
        migrations.AlterField(model_name="guardian", name="birth_date", field=models.DateField(null=True)),
        # A default so that the reverse can re-add the column: the phones themselves cannot come back.
        migrations.AlterField(
            model_name="smssend", name="phone", field=models.CharField(max_length=20, db_index=True, default="")
        ),
        migrations.AddField(
            model_name="smssend",
            name="phone_index",
            field=models.CharField(db_index=True, default="", max_length=64),
            preserve_default=False,
        ),
        migrations.RunPython(forward, reverse),
        migrations.RemoveField(model_name="guardian", name="birth_date"),
        migrations.RemoveField(model_name="person", name="birth_date"),
        migrations.RemoveField(model_name="smssend", name="phone"),
    ]
