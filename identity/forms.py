from django import forms
from django.utils.translation import gettext_lazy as _

from identity.models import Guardian
from identity.validators import normalize_phone, validate_resident_id


class OperatorLoginForm(forms.Form):
    username = forms.CharField(label=_("Username"), max_length=150)
    password = forms.CharField(label=_("Password"), widget=forms.PasswordInput)


class AcceptForm(forms.Form):
    username = forms.RegexField(
        label=_("Username"),
        max_length=150,
        regex=r"^[\w.@+-]+$",
        error_messages={"invalid": _("Use letters, digits and . @ + - _ only.")},
    )
    password = forms.CharField(label=_("Password"), widget=forms.PasswordInput)
    password_again = forms.CharField(label=_("Password again"), widget=forms.PasswordInput)

    def clean(self):
        data = super().clean()
        if data.get("password") and data.get("password") != data.get("password_again"):
            self.add_error("password_again", _("The two passwords differ."))
        return data


class OtpForm(forms.Form):
    token = forms.CharField(
        label=_("6-digit code from your authenticator app, or a backup code"),
        max_length=16,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )


class PhoneForm(forms.Form):
    phone = forms.CharField(
        label=_("Mobile number"),
        max_length=32,
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel", "inputmode": "tel"}),
    )

    def clean_phone(self):
        return normalize_phone(self.cleaned_data["phone"])


class CodeForm(forms.Form):
    code = forms.RegexField(
        label=_("6-digit code from the SMS"),
        regex=r"^\s*\d{6}\s*$",
        error_messages={"invalid": _("Enter the 6 digits from the SMS.")},
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "maxlength": "6"}),
    )


class IdentityForm(forms.Form):
    legal_name = forms.CharField(label=_("Legal name (as on your ID card)"), max_length=60)
    id_number = forms.CharField(
        label=_("ID number (18 characters)"),
        max_length=24,
        help_text=_(
            "Resident identity card, residence permit for Hong Kong, Macao and Taiwan residents, "
            "or foreign permanent resident ID card."
        ),
    )

    def clean_id_number(self):
        return validate_resident_id(self.cleaned_data["id_number"]).number


class GuardianForm(IdentityForm):
    relationship = forms.ChoiceField(
        label=_("Your relationship to the child"),
        widget=forms.RadioSelect,
        choices=[],
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["relationship"].choices = Guardian.Relationship.choices
        self.fields["legal_name"].label = _("Guardian's legal name")
        self.fields["id_number"].label = _("Guardian's ID number")
