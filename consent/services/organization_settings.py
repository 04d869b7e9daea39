"""How the consent service treats one organisation, set by platform staff."""

from django.db import transaction

import audit
from consent.models import OrganizationSettings
from identity.models import Organization

__all__ = ["organization_settings_set"]


@transaction.atomic
def organization_settings_set(
    *, actor, organization: Organization, require_media_binding: bool
) -> OrganizationSettings:
    """Turn media binding on or off for every token an organisation's services present."""
    settings, _ = OrganizationSettings.objects.select_for_update().get_or_create(organization=organization)
    if settings.require_media_binding != require_media_binding:
        settings.require_media_binding = require_media_binding
        settings.save(update_fields=["require_media_binding", "updated_at"])
        audit.record(
            actor,
            "organization.settings_update",
            organization,
            {"organization": organization.pk, "require_media_binding": require_media_binding},
            organization=organization,
        )
    return settings
