from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from identity.forms import CodeForm


class DenyForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason (optional)"), required=False, max_length=500, widget=forms.Textarea(attrs={"rows": 2})
    )


class GrantForm(CodeForm):
    pass


class _ConfirmForm(forms.Form):
    """Labels that are sentences (or end in "（选填）") take no colon: it would read as a stray "。:".

    A field in error points at its message (aria-describedby, the id _form.html gives it), so that a
    screen reader reads the message with the field and not only where it appears (WCAG 3.3.1).
    """

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)

    def full_clean(self):
        super().full_clean()
        for name in self.errors:
            if name in self.fields:
                self.fields[name].widget.attrs.update(
                    {"aria-invalid": "true", "aria-describedby": f"{self[name].auto_id}-error"}
                )


class RevokeForm(_ConfirmForm):
    reason = forms.CharField(
        label=_("Reason (optional)"), required=False, max_length=500, widget=forms.Textarea(attrs={"rows": 2})
    )
    confirm = forms.BooleanField(
        label=_("I want to withdraw this consent. Services can no longer use my likeness under it."),
        error_messages={"required": _("Tick the box to confirm that you want to withdraw.")},
    )


class DeleteAccountForm(_ConfirmForm):
    confirm = forms.BooleanField(
        label=_(
            "Delete my account: withdraw all my consents, refuse open requests, erase my name, ID number, phone "
            "number and samples. The signed records of my decisions stay as proof, with masked identity data."
        ),
        error_messages={"required": _("Tick the box to confirm that you want to delete your account.")},
    )


class StatementForm(forms.Form):
    recording = forms.FileField(
        label=_("Your recording"),
        error_messages={"required": _("Choose or record the video or audio of you reading the statement.")},
    )

    def __init__(self, *args, needs_video: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        # `capture` opens the phone's camera (front, facing the person) or sound recorder directly.
        self.fields["recording"].widget.attrs.update(
            {"accept": "video/*" if needs_video else "audio/*", "capture": "user"}
        )

    def clean_recording(self):
        recording = self.cleaned_data["recording"]
        if getattr(recording, "oversized", False):
            raise forms.ValidationError(
                _("The recording is larger than %(mb)s MB. Record a shorter statement.")
                % {"mb": settings.STATEMENT_MAX_BYTES // (1024 * 1024)}
            )
        return recording
