"""Give every consent an unguessable public id for the public check page (QR target).

Three steps so that existing rows get distinct values: add nullable, fill, then make unique and required.
"""

import uuid

from django.db import migrations, models


def fill(apps, schema_editor):
    Consent = apps.get_model("consent", "Consent")
    for consent in Consent.objects.filter(public_id__isnull=True).only("pk"):
        Consent.objects.filter(pk=consent.pk).update(public_id=uuid.uuid4())


class Migration(migrations.Migration):
    dependencies = [("consent", "0002_requests_consents_tokens_artifacts")]

    operations = [
        migrations.AddField(model_name="consent", name="public_id", field=models.UUIDField(null=True, editable=False)),
        migrations.RunPython(fill, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="consent",
            name="public_id",
            field=models.UUIDField(default=uuid.uuid4, editable=False, unique=True),
        ),
    ]
