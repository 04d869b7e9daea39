from django import forms
from django.utils.translation import gettext_lazy as _

from identity.forms import CodeForm


class DenyForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason (optional)"), required=False, max_length=500, widget=forms.Textarea(attrs={"rows": 2})
    )


class GrantForm(CodeForm):
    pass


class _NoColonForm(forms.Form):
    """Labels that are sentences (or end in "（选填）") take no colon: it would read as a stray "。:"."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


class RevokeForm(_NoColonForm):
    reason = forms.CharField(
        label=_("Reason (optional)"), required=False, max_length=500, widget=forms.Textarea(attrs={"rows": 2})
    )
    confirm = forms.BooleanField(
        label=_("I want to withdraw this consent. Services can no longer use my likeness under it."),
        error_messages={"required": _("Tick the box to confirm that you want to withdraw.")},
    )


class DeleteAccountForm(_NoColonForm):
    confirm = forms.BooleanField(
        label=_(
            "Delete my account: withdraw all my consents, refuse open requests, erase my name, ID number, phone "
            "number and samples. The signed records of my decisions stay as proof, with masked identity data."
        ),
        error_messages={"required": _("Tick the box to confirm that you want to delete your account.")},
    )
