import django.db.models.deletion
from django.db import migrations, models


def settings_from_organizations(apps, schema_editor):
    """Only organisations that asked for media binding get a row; no row means the defaults."""
    Organization = apps.get_model("identity", "Organization")
    OrganizationSettings = apps.get_model("consent", "OrganizationSettings")
    OrganizationSettings.objects.bulk_create(
        OrganizationSettings(organization_id=pk, require_media_binding=True)
        for pk in Organization.objects.filter(require_media_binding=True).values_list("pk", flat=True)
    )


def organizations_from_settings(apps, schema_editor):
    Organization = apps.get_model("identity", "Organization")
    OrganizationSettings = apps.get_model("consent", "OrganizationSettings")
    chosen = OrganizationSettings.objects.filter(require_media_binding=True).values_list("organization_id", flat=True)
    Organization.objects.filter(pk__in=list(chosen)).update(require_media_binding=True)


class Migration(migrations.Migration):
    dependencies = [
        ("consent", "0005_idempotency_keeps_the_request"),
        ("identity", "0007_user_lockout_moves_to_the_cache"),
    ]
    # Declared here rather than as a dependency of identity's migration: identity names nothing of consent.
    run_before = [("identity", "0008_organization_media_binding_moves_to_consent")]

    operations = [
        migrations.CreateModel(
            name="OrganizationSettings",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "require_media_binding",
                    models.BooleanField(
                        default=False,
                        help_text="Token verification refuses media whose SHA-256 is not among the consent's samples.",
                        verbose_name="require media binding",
                    ),
                ),
                ("updated_at", models.DateTimeField(auto_now=True)),
                (
                    "organization",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="consent_settings",
                        to="identity.organization",
                    ),
                ),
            ],
            options={
                "verbose_name": "organisation consent settings",
                "verbose_name_plural": "organisation consent settings",
            },
        ),
        migrations.RunPython(settings_from_organizations, organizations_from_settings),
    ]
