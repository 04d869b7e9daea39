from django import forms
from django.utils.translation import gettext_lazy as _


class OperatorLoginForm(forms.Form):
    username = forms.CharField(label=_("Username"), max_length=150)
    password = forms.CharField(label=_("Password"), widget=forms.PasswordInput)


class OtpForm(forms.Form):
    token = forms.CharField(
        label=_("6-digit code from your authenticator app, or a backup code"),
        max_length=16,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )
