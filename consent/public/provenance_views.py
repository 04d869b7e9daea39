"""The public provenance check: anyone uploads a file or pastes a hash; no sign-in, no personal data shown."""

import re

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from consent.provenance.check import provenance_check_file, provenance_check_hash, provenance_check_receipt_id
from consent.public.limits import check_refused, refused_page
from consent.uploads import UploadStopAtLimit

SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")


class ProvenanceForm(forms.Form):
    file = forms.FileField(
        label=_("File"),
        required=False,
        error_messages={"empty": _("The file is empty."), "invalid": _("No file was received. Choose the file again.")},
    )
    sha256 = forms.CharField(
        label=_("or its SHA-256"),
        required=False,
        max_length=80,
        help_text=_("64 hexadecimal digits, e.g. from sha256sum."),
    )

    def __init__(self, *args, too_big: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.too_big = too_big
        self.fields["file"].help_text = _(
            "An image, recording or video (PNG, JPEG, MP3, WAV, MP4) of at most %(mb)s MB. The file is not kept."
        ) % {"mb": settings.PROVENANCE_CHECK_MAX_BYTES // (1024 * 1024)}

    def clean_file(self):
        upload = self.cleaned_data.get("file")
        if self.too_big or (upload is not None and upload.size > settings.PROVENANCE_CHECK_MAX_BYTES):
            raise ValidationError(
                _("The file is too big: at most %(mb)s MB is accepted. Paste its SHA-256 instead."),
                code="too_big",
                params={"mb": settings.PROVENANCE_CHECK_MAX_BYTES // (1024 * 1024)},
            )
        return upload

    def clean_sha256(self):
        value = self.cleaned_data["sha256"].strip()
        if value and not SHA256.match(value):
            raise ValidationError(_("A SHA-256 is 64 hexadecimal digits (0-9, a-f)."), code="not_sha256")
        return value.lower()

    def clean(self):
        data = super().clean()
        if not self.errors and not data.get("file") and not data.get("sha256"):
            raise ValidationError(_("Choose a file to check, or paste its SHA-256."), code="nothing")
        return data


@csrf_exempt  # checked below, once the size limit is in place (the CSRF check reads the body)
def check(request):
    if request.method == "POST" and (refused := check_refused(request)):
        return refused_page(request, "public/provenance.html", ProvenanceForm(), refused)  # before the upload is read
    limit = UploadStopAtLimit(request, limit=settings.PROVENANCE_CHECK_MAX_BYTES)
    request.upload_max_bytes = settings.PROVENANCE_CHECK_MAX_BYTES
    request.upload_handlers.insert(0, limit)
    return _check(request, limit)


@csrf_protect
def _check(request, limit: UploadStopAtLimit):
    report = None
    if request.method == "POST":
        form = ProvenanceForm(request.POST, request.FILES, too_big=limit.exceeded)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            if upload:
                report = provenance_check_file(content=upload.read())
            else:
                report = provenance_check_hash(sha256=form.cleaned_data["sha256"])
    else:
        form = ProvenanceForm()
    return render(request, "public/provenance.html", {"form": form, "report": report})


def receipt(request, receipt_id):
    report = provenance_check_receipt_id(receipt_id=receipt_id)
    if report is None:
        raise Http404
    return render(request, "public/provenance_receipt.html", {"report": report})
