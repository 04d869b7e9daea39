"""Public verification: anyone may upload a record to check it, or open the QR link to see a consent's state."""

from django import forms
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from consent.public.limits import check_refused, refused_page
from consent.records.render import artifact_verify, consent_status_public
from consent.uploads import UploadStopAtLimit

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_UPLOAD_MB = MAX_UPLOAD_BYTES // (1024 * 1024)


class VerifyForm(forms.Form):
    file = forms.FileField(
        label=_("Signed PDF record"),
        error_messages={
            "required": _("Choose the PDF file to check."),
            "empty": _("The file is empty."),
            "invalid": _("No file was received. Choose the PDF file again."),
        },
        widget=forms.ClearableFileInput(attrs={"accept": "application/pdf,.pdf"}),
    )

    def __init__(self, *args, too_big: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["file"].help_text = _(
            "The consent or withdrawal record you received, as a PDF of at most %(mb)s MB."
        ) % {"mb": MAX_UPLOAD_MB}
        self.too_big = too_big
        if too_big:  # the upload was cut off unread; say so instead of "no file"
            self.fields["file"].required = False

    def clean_file(self):
        upload = self.cleaned_data.get("file")
        if self.too_big or (upload is not None and upload.size > MAX_UPLOAD_BYTES):
            raise ValidationError(
                _("The file is too big: at most %(mb)s MB is accepted."), code="too_big", params={"mb": MAX_UPLOAD_MB}
            )
        head = upload.read(5)
        upload.seek(0)
        if head != b"%PDF-":
            raise ValidationError(_("This is not a PDF file. Upload the PDF record itself."), code="not_pdf")
        return upload


@csrf_exempt  # checked below, once the size limit is in place (the CSRF check reads the body)
def upload(request):
    if request.method == "POST" and (refused := check_refused(request)):
        return refused_page(request, "public/verify.html", VerifyForm(), refused)  # before the upload is read
    limit = UploadStopAtLimit(request, limit=MAX_UPLOAD_BYTES)
    request.upload_max_bytes = MAX_UPLOAD_BYTES  # for consent.uploads, which otherwise stops at the sample size
    request.upload_handlers.insert(0, limit)
    return _upload(request, limit)


@csrf_protect
def _upload(request, limit: UploadStopAtLimit):
    report = None
    if request.method == "POST":
        form = VerifyForm(request.POST, request.FILES, too_big=limit.exceeded)
        if form.is_valid():
            report = artifact_verify(form.cleaned_data["file"].read())
    else:
        form = VerifyForm()
    return render(request, "public/verify.html", {"form": form, "report": report})


def status(request, public_id):
    consent_status = consent_status_public(public_id=public_id)
    if consent_status is None:
        raise Http404
    return render(request, "public/verify_status.html", {"status": consent_status})
