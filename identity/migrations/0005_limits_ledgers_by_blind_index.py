"""SmsSend keeps a blind index of the phone instead of the number; IdentityCheck records who asked (caps)."""

import base64
import hashlib
import hmac

from django.conf import settings
from django.db import migrations, models


def phone_to_index(apps, schema_editor):
    # The same keyed HMAC as identity.crypto.blind_index, inlined because migrations never import app code.
    key = base64.b64decode(settings.PII_INDEX_KEY)
    SmsSend = apps.get_model("identity", "SmsSend")
    for send in SmsSend.objects.exclude(phone="").only("pk", "phone").iterator():
        send.phone_index = hmac.new(key, f"phone:{send.phone}".encode(), hashlib.sha256).hexdigest()
        send.save(update_fields=["phone_index"])


def index_to_nothing(apps, schema_editor):
    """The number cannot be recovered from its index; the ledger only matters for a day anyway."""


class Migration(migrations.Migration):
    dependencies = [("identity", "0004_person_erased_at")]

    operations = [
        migrations.AddField(
            model_name="smssend",
            name="phone_index",
            field=models.CharField(db_index=True, default="", max_length=64),
            preserve_default=False,
        ),
        migrations.RunPython(phone_to_index, index_to_nothing),
        migrations.RemoveField(model_name="smssend", name="phone"),
        migrations.AddField(
            model_name="identitycheck",
            name="ip",
            field=models.GenericIPAddressField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="identitycheck",
            name="phone_index",
            field=models.CharField(blank=True, db_index=True, max_length=64),
        ),
        migrations.AlterField(
            model_name="identitycheck",
            name="created_at",
            field=models.DateTimeField(auto_now_add=True, db_index=True),
        ),
    ]
