"""Back-office forms. They parse and check types; the business rules live in the services."""

from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _

from consent.models import (
    ApiKey,
    Consent,
    ConsentRequest,
    EndUserVerification,
    Modality,
    Operation,
    Presentation,
    WebhookEvent,
)
from consent.uploads import kept_load, kept_store

MAX_ITEMS = 2


def _languages():
    return settings.LANGUAGES


def _blank(choices):
    return [("", _("Choose…")), *choices]


def _any(choices):
    return [("", _("any")), *choices]


SEARCH_HELP = _("A phone number or part of it (masked as shown is fine), or an exact 18-character ID number.")


def _search_field():
    return forms.CharField(label=_("Person"), max_length=32, required=False, help_text=SEARCH_HELP)


class PersonSearchForm(forms.Form):
    """A list filter with fields that name a person: it is posted, and those fields never enter a URL
    (see `lists.filter_data`)."""

    personal_fields: tuple[str, ...] = ("q",)


class RequestFilterForm(PersonSearchForm):
    personal_fields = ("q", "phone")
    q = _search_field()
    state = forms.ChoiceField(label=_("State"), choices=_any(ConsentRequest.State.choices), required=False)
    phone = forms.CharField(label=_("Phone contains"), max_length=20, required=False)
    modality = forms.ChoiceField(label=_("Modality"), choices=_any(Modality.choices), required=False)


class ConsentFilterForm(PersonSearchForm):
    q = _search_field()
    state = forms.ChoiceField(label=_("State"), choices=_any(Consent.State.choices), required=False)


class PresentationFilterForm(PersonSearchForm):
    q = _search_field()
    consent = forms.IntegerField(label=_("Consent #"), min_value=1, required=False)
    api_key = forms.ModelChoiceField(
        label=_("API key"), queryset=ApiKey.objects.none(), required=False, empty_label=_("any")
    )
    operation = forms.ChoiceField(label=_("Operation"), choices=_any(Operation.choices), required=False)
    result = forms.ChoiceField(label=_("Result"), choices=_any(Presentation.Result.choices), required=False)
    since = forms.DateField(label=_("Period from"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label=_("Period to"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["api_key"].queryset = ApiKey.objects.filter(organization=organization).order_by("name")


class AuditFilterForm(forms.Form):
    action = forms.CharField(label=_("Action starts with"), max_length=64, required=False)
    since = forms.DateField(label=_("Period from"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label=_("Period to"), required=False, widget=forms.DateInput(attrs={"type": "date"}))


class WebhookFilterForm(forms.Form):
    state = forms.ChoiceField(label=_("State"), choices=_any(WebhookEvent.State.choices), required=False)


class RequestForm(forms.Form):
    phone = forms.CharField(
        label=_("Mobile number of the person"),
        max_length=20,
        help_text=_("The SMS with the link goes to this number, e.g. +86 139 1234 5678."),
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "off"}),
    )
    email = forms.EmailField(label=_("E-mail of the person (optional)"), required=False)
    language = forms.ChoiceField(label=_("Language of the notice"), choices=_languages, initial="zh-hans")
    expires_in_days = forms.IntegerField(
        label=_("The request stays open for (days)"), initial=7, min_value=1, max_value=30
    )
    end_user_reference = forms.CharField(
        label=_("Your end user (your reference for them)"),
        max_length=100,
        help_text=_("Who among your users asks to edit this likeness."),
    )
    end_user_verification_method = forms.ChoiceField(
        label=_("How you verified your end user's real identity"), choices=_blank(EndUserVerification.choices)
    )
    end_user_verification_reference = forms.CharField(label=_("Reference of that verification"), max_length=100)
    end_user_verified_at = forms.DateTimeField(
        label=_("When your end user was verified"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    end_user_prompted_to_notify = forms.BooleanField(
        label=_("My end user was prompted to inform the person whose face or voice will be edited"),
        required=False,  # the service refuses with the reason (Provisions Art. 14); never pre-ticked
    )
    retention_days = forms.IntegerField(
        label=_("Days the reference samples are kept after the consent ends"),
        help_text=_(
            "Then the service erases them (also after a refusal, a cancellation or an expiry); the person is told "
            "this number."
        ),
        min_value=0,
        initial=lambda: settings.SAMPLE_RETENTION_DEFAULT_DAYS,
    )
    notice_retention = forms.CharField(
        label=_("Anything more about keeping, e.g. the outputs (optional)"),
        max_length=300,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    notice_withdrawal = forms.CharField(
        label=_("How the person can withdraw consent"),
        max_length=300,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    notice_recipients = forms.CharField(
        label=_("Other recipients of the likeness (optional)"),
        help_text=_("One name per line. Leave empty if nobody else receives it."),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    statement_required = forms.BooleanField(
        label=_("The person records a consent statement, compared with the samples, before granting"),
        help_text=_("Your organisation's settings may require it anyway (for voice cloning, or always)."),
        required=False,
    )

    def clean_notice_recipients(self) -> list[str]:
        return [line.strip() for line in self.cleaned_data["notice_recipients"].splitlines() if line.strip()]


class MultipleFileInput(forms.FileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """One or more uploaded files; cleans to a list."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": "image/*,audio/*"}))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        files = (list(data) or [None]) if isinstance(data, (list, tuple)) else [data]
        cleaned = [super(MultipleFileField, self).clean(f, initial) for f in files]
        return [f for f in cleaned if f]

    def has_changed(self, initial, data):
        # An empty selection arrives as [], which the single-file field would count as a change.
        return not self.disabled and bool(data)


class ItemForm(forms.Form):
    modality = forms.ChoiceField(label=_("Face or voice"), choices=_blank(Modality.choices))
    operations = forms.MultipleChoiceField(
        label=_("Operations wanted"),
        choices=Operation.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text=_(
            "Face: generation, swap, attribute editing, manipulation, pose. Voice: cloning, conversion, speech."
        ),
    )
    purpose = forms.CharField(label=_("Purpose"), max_length=500, widget=forms.Textarea(attrs={"rows": 2}))
    usage = forms.CharField(
        label=_("Where the output is published or used"), max_length=500, widget=forms.Textarea(attrs={"rows": 2})
    )
    valid_until = forms.DateField(label=_("Valid until"), widget=forms.DateInput(attrs={"type": "date"}))
    samples = MultipleFileField(
        label=_("Reference samples (image for face, recording for voice)"),
        help_text=_("JPEG, PNG, WebP, WAV, MP3, OGG, FLAC or M4A; several files may be chosen."),
        error_messages={"required": _("Attach at least one reference sample.")},
    )

    def __init__(self, *args, user_id: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.user_id = user_id
        # Samples of a previous submit that failed: named by a signed token (see consent.uploads).
        self.kept_token = self.data.get(self.add_prefix("kept"), "") if self.is_bound else ""
        self.kept_files = kept_load(self.kept_token, user_id=user_id)
        if self.kept_files:
            self._samples_optional()

    def _samples_optional(self) -> None:
        # Also drops the browser's `required` check, which would otherwise ask for the kept files again.
        self.fields["samples"].required = False
        # The bound field copied the help text when validation first read it.
        self.fields["samples"].help_text = self["samples"].help_text = _("Choose files only to replace the kept ones.")

    @property
    def kept_names(self) -> list[str]:
        return [f.name for f in self.kept_files]

    def keep_samples(self) -> None:
        """After a failed submit: store the checked samples so the form shown again still has them."""
        files = self.cleaned_data.get("samples") if hasattr(self, "cleaned_data") else None
        if files and files is not self.kept_files:
            self.kept_token = kept_store(files, user_id=self.user_id)
            self.kept_files = files
            self._samples_optional()

    def has_changed(self):
        return super().has_changed() or bool(self.kept_files)

    def clean_samples(self):
        files = self.cleaned_data["samples"] or self.kept_files
        if len(files) > settings.SAMPLES_MAX_PER_ITEM:
            raise forms.ValidationError(
                _("At most %(n)s samples per item."), params={"n": settings.SAMPLES_MAX_PER_ITEM}
            )
        limit = settings.SAMPLE_MAX_BYTES
        for f in files:
            # Refuse before reading an oversized upload into memory; the service checks the content.
            if f.size > limit:
                raise forms.ValidationError(
                    _("%(name)s is larger than %(limit)s."), params={"name": f.name, "limit": filesizeformat(limit)}
                )
        return files


class BaseItemFormSet(forms.BaseFormSet):
    default_error_messages = {
        **forms.BaseFormSet.default_error_messages,
        "too_few_forms": _("Add at least one item (face or voice)."),
    }


ItemFormSet = forms.formset_factory(
    ItemForm, formset=BaseItemFormSet, extra=2, min_num=1, max_num=MAX_ITEMS, validate_min=True, validate_max=True
)


class CancelForm(forms.Form):
    confirm = forms.BooleanField(
        label=_("Yes, cancel this request. Items not yet decided can no longer be granted."),
        error_messages={"required": _("Tick the box to confirm the cancellation.")},
    )


class ApiKeyForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100, help_text=_("Which service uses this key."))
    scopes = forms.MultipleChoiceField(
        label=_("Allowed to"),
        choices=ApiKey.Scope.choices,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Choose at least one scope.")},
    )


class WebhookEndpointForm(forms.Form):
    url = forms.URLField(
        label=_("Endpoint URL"),
        max_length=500,
        assume_scheme="https",
        help_text=_("We POST signed events (Standard Webhooks) to this HTTPS address."),
    )
    rotate_secret = forms.BooleanField(
        label=_("Also issue a new signing secret (the old one stops working)"), required=False
    )


class WebhookDeleteForm(forms.Form):
    confirm = forms.BooleanField(
        label=_("Yes, stop sending events to this endpoint."),
        error_messages={"required": _("Tick the box to confirm.")},
    )


class StatementReviewForm(forms.Form):
    decision = forms.ChoiceField(
        label=_("Your decision"),
        choices=[
            ("approve", _("Approve: it is the person in the samples")),
            ("refuse", _("Refuse: it is not, or it cannot be told")),
        ],
        widget=forms.RadioSelect,
        error_messages={"required": _("Choose approve or refuse.")},
    )
    reason = forms.CharField(
        label=_("Reason"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Kept in the audit trail; the person sees it if you refuse."),
        error_messages={"required": _("Say why: the person and the audit trail see it.")},
    )
