"""Platform staff's admin (behind django-otp's OTPAdminSite). Writes go through the services."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import ValidationError
from django.db import transaction

import audit
from identity import services
from identity.admin_site import admin_site
from identity.errors import LastOwner
from identity.models import Membership, Organization, Person, User
from identity.validators import normalize_phone, validate_uscc

ORGANIZATION_FIELDS = [
    "name",
    "uscc",
    "privacy_contact_name",
    "privacy_contact_email",
    "privacy_contact_phone",
    "address",
]


class OrganizationForm(forms.ModelForm):
    class Meta:
        model = Organization
        fields = ORGANIZATION_FIELDS

    def clean_uscc(self):
        return validate_uscc(self.cleaned_data["uscc"])

    def clean_privacy_contact_phone(self):
        try:
            return normalize_phone(self.cleaned_data["privacy_contact_phone"])
        except ValidationError as exc:
            raise forms.ValidationError(exc.messages) from exc


@admin.register(Organization, site=admin_site)
class OrganizationAdmin(admin.ModelAdmin):
    form = OrganizationForm
    list_display = ["name", "uscc", "privacy_contact_email", "created_at"]
    search_fields = ["name", "uscc"]

    def save_model(self, request, obj, form, change):
        values = {name: form.cleaned_data[name] for name in ORGANIZATION_FIELDS}
        if change:
            services.organization_update(actor=request.user, organization=obj, **values)
        else:
            obj.pk = services.organization_create(actor=request.user, **values).pk

    def has_delete_permission(self, request, obj=None):
        return False  # consents and audit events refer to it


class MembershipForm(forms.ModelForm):
    class Meta:
        model = Membership
        fields = ["user", "organization", "role"]

    def clean_role(self):
        role = self.cleaned_data["role"]
        # self.instance still holds the stored role here: the form copies its values in after clean.
        if self.instance.pk and role != Membership.Role.OWNER and services.membership_is_last_owner(self.instance):
            raise ValidationError(LastOwner.message, code=LastOwner.code)
        return role


@admin.register(Membership, site=admin_site)
class MembershipAdmin(admin.ModelAdmin):
    """Staff manage any organisation's members, through the services that never leave one without an owner."""

    form = MembershipForm
    list_display = ["user", "organization", "role", "created_at"]
    list_filter = ["role", "organization"]

    def get_readonly_fields(self, request, obj=None):
        # Moving a membership to another user or organisation would be a removal plus a creation;
        # membership_set only knows the pair it is given, so only the role is editable.
        return ["user", "organization"] if obj else []

    def has_delete_permission(self, request, obj=None):
        if obj is not None and services.membership_is_last_owner(obj):
            return False  # the page says why: no delete button, and the role cannot leave "owner"
        return super().has_delete_permission(request, obj)

    def save_model(self, request, obj, form, change):
        if change:
            membership = services.staff_membership_role_set(actor=request.user, membership=obj, role=obj.role)
        else:
            membership = services.membership_set(
                actor=request.user, user=obj.user, organization=obj.organization, role=obj.role
            )
        obj.pk = membership.pk

    def delete_model(self, request, obj):
        services.staff_membership_remove(actor=request.user, membership=obj)

    def delete_queryset(self, request, queryset):
        for membership in queryset:
            try:
                services.staff_membership_remove(actor=request.user, membership=membership)
            except LastOwner:
                self.message_user(request, f"{membership}: {LastOwner.message}", messages.ERROR)


@admin.register(User, site=admin_site)
class OperatorAdmin(UserAdmin):
    """Operators and staff. Every change, including a password set here, is in the audit chain.

    No deletion: it would cascade into memberships outside the services and leave audit events
    pointing at nobody. Clear "active" instead (audited as operator.update).
    """

    def get_queryset(self, request):
        return super().get_queryset(request).filter(person__isnull=True)

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        data = {"fields": sorted(form.changed_data)}
        if change:
            services.operator_event_record(request.user, "operator.update", obj, data)
        else:
            audit.record(request.user, "operator.create", obj, data)

    def user_change_password(self, request, id, form_url=""):
        # Django's view saves the password itself; wrapping it puts the audit event in the same transaction.
        with transaction.atomic():
            response = super().user_change_password(request, id, form_url)
            if request.method == "POST" and response.status_code == 302:
                user = self.get_object(request, unquote(id))
                services.operator_event_record(
                    request.user, "operator.password_set", user, {"via": "admin", "usable": user.has_usable_password()}
                )
        return response


@admin.register(Person, site=admin_site)
class PersonAdmin(admin.ModelAdmin):
    """Read-only, masked: staff see that a person exists and how they were verified, never the plain identity."""

    list_display = ["legal_name_masked", "id_number_masked", "verified_at", "erased_at", "created_at"]
    fields = ["legal_name_masked", "id_number_masked", "id_kind", "verified_at", "erased_at", "created_at"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
