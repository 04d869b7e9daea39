"""Organisations get a public, stable identifier: the `aud` of their consent tokens."""

import uuid

from django.db import migrations, models


def give_each_an_identifier(apps, schema_editor):
    Organization = apps.get_model("identity", "Organization")
    for pk in Organization.objects.filter(public_id__isnull=True).values_list("pk", flat=True):
        Organization.objects.filter(pk=pk).update(public_id=uuid.uuid4())


class Migration(migrations.Migration):
    dependencies = [("identity", "0009_invitations")]

    operations = [
        migrations.AddField(
            model_name="organization",
            name="public_id",
            field=models.UUIDField(editable=False, null=True, verbose_name="public identifier"),
        ),
        migrations.RunPython(give_each_an_identifier, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="organization",
            name="public_id",
            field=models.UUIDField(default=uuid.uuid4, editable=False, unique=True, verbose_name="public identifier"),
        ),
    ]
