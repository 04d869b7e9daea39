from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from identity.models import Membership, Organization
from identity.validators import normalize_phone, validate_uscc


class InviteForm(forms.Form):
    email = forms.EmailField(label=_("E-mail"), required=False)
    phone = forms.CharField(label=_("Mobile number"), required=False, max_length=32)
    role = forms.ChoiceField(label=_("Role"), choices=Membership.Role.choices, initial=Membership.Role.OPERATOR)

    def clean_phone(self):
        phone = self.cleaned_data["phone"].strip()
        return normalize_phone(phone) if phone else ""

    def clean(self):
        data = super().clean()
        if not data.get("email") and not data.get("phone") and not self.errors:
            raise ValidationError(_("Give an e-mail address or a mobile number to send the invitation to."))
        return data


class RoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=Membership.Role.choices)


class OtpConfirmForm(forms.Form):
    otp = forms.CharField(
        label=_("Current code from your authenticator app"),
        max_length=16,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )


class PasswordChangeForm(OtpConfirmForm):
    password = forms.CharField(label=_("New password"), widget=forms.PasswordInput)
    password_again = forms.CharField(label=_("New password again"), widget=forms.PasswordInput)

    def clean(self):
        data = super().clean()
        if data.get("password") and data.get("password") != data.get("password_again"):
            self.add_error("password_again", _("The two passwords differ."))
        return data


class NewDeviceForm(forms.Form):
    device = forms.IntegerField(widget=forms.HiddenInput)
    token = forms.CharField(label=_("Code from the new authenticator"), max_length=16)


class OrganizationForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    uscc = forms.CharField(label=_("Unified social credit code"), max_length=18)
    address = forms.CharField(label=_("Address"), max_length=300)
    privacy_contact_name = forms.CharField(label=_("Privacy contact"), max_length=100)
    privacy_contact_email = forms.EmailField(label=_("Privacy contact e-mail"))
    privacy_contact_phone = forms.CharField(label=_("Privacy contact phone"), max_length=32)

    def __init__(self, *args, organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.organization = organization

    def clean_uscc(self):
        uscc = validate_uscc(self.cleaned_data["uscc"])
        if Organization.objects.exclude(pk=self.organization.pk).filter(uscc=uscc).exists():
            raise ValidationError(_("Another organisation is registered with this code."))
        return uscc

    def clean_privacy_contact_phone(self):
        return normalize_phone(self.cleaned_data["privacy_contact_phone"])
