"""IdentityCheck records who asked (address and the blind index of the phone): the daily caps count them."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("identity", "0005_identity_data_minimised")]

    operations = [
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
