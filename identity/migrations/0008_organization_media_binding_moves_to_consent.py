from django.db import migrations


class Migration(migrations.Migration):
    """The setting now lives with the consent side's per-organisation settings, which copied it first."""

    dependencies = [
        ("identity", "0007_user_lockout_moves_to_the_cache"),
    ]

    operations = [
        migrations.RemoveField(model_name="organization", name="require_media_binding"),
    ]
