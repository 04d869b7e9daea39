"""Platform staff's admin for the consent side of an organisation. Writes go through the services."""

from django.contrib import admin

from consent import services
from consent.models import OrganizationSettings
from identity.admin_site import admin_site


@admin.register(OrganizationSettings, site=admin_site)
class OrganizationSettingsAdmin(admin.ModelAdmin):
    fields = ["organization", "require_media_binding", "statement_policy"]
    list_display = ["organization", "require_media_binding", "statement_policy", "updated_at"]
    list_filter = ["require_media_binding", "statement_policy"]
    search_fields = ["organization__name", "organization__uscc"]

    def get_readonly_fields(self, request, obj=None):
        return ["organization"] if obj else []  # the settings of one organisation never move to another

    def save_model(self, request, obj, form, change):
        saved = services.organization_settings_set(
            actor=request.user,
            organization=obj.organization,
            require_media_binding=form.cleaned_data["require_media_binding"],
            statement_policy=form.cleaned_data["statement_policy"],
        )
        obj.pk = saved.pk

    def has_delete_permission(self, request, obj=None):
        return False  # turning binding off is a change that is audited, not a deletion that is not
