"""The recorded consent statement: after the identity step, before any grant code.

The page shows the statement to read (name, organisation, items, a one-time number) and records it in
the browser (static/js/statement.js); without JavaScript a file input with `capture` opens the phone's
camera or recorder. The check runs as a Celery task; the page says where it stands.
"""

from django.conf import settings
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from consent import previews, selectors, services
from consent.errors import ConsentError, NotForThisPerson
from consent.models import ConsentRequest
from consent.portal.forms import StatementForm
from errors.surfaces import form_error_add
from identity.decorators import identity_required, identity_step, signed_in_person


@csrf_exempt  # checked below, once the recording's own size limit is in place (the CSRF check reads the body)
def statement(request, code):
    request.upload_max_bytes = settings.STATEMENT_MAX_BYTES  # consent.uploads otherwise stops at the sample size
    return _statement(request, code)


@csrf_protect
@identity_required
def _statement(request, code):
    try:  # the link may be followed straight from the request's SMS, as the request page is
        services.request_open(person=request.person, code=code)
    except (ConsentRequest.DoesNotExist, NotForThisPerson) as exc:
        raise Http404 from exc
    consent_request = selectors.request_get_for_person(person=request.person, code=code)
    if not consent_request.statement_required:
        return redirect("portal:request", code=code)
    found = services.statement_start(person=request.person, request_id=consent_request.pk, language=get_language())
    needs_video = services.statement_needs_video(consent_request)
    form = StatementForm(needs_video=needs_video)
    status = 200
    if request.method == "POST":
        form = StatementForm(request.POST, request.FILES, needs_video=needs_video)
        if form.is_valid():
            try:
                found = services.statement_record(
                    person=request.person, request_id=consent_request.pk, content=form.cleaned_data["recording"].read()
                )
            except ConsentError as exc:
                form_error_add(form, exc, field="recording")
            else:
                messages.success(request, _("Your statement was received."))
                return redirect("portal:statement", code=code)
        status = 400
    found.refresh_from_db()
    context = {
        "consent_request": consent_request,
        "statement": found,
        "text": services.statement_text(found),
        "needs_video": needs_video,
        "can_record": found.state in ("awaiting", "needs_review")
        and consent_request.state == ConsentRequest.State.PENDING,
        "form": form,
        "min_seconds": settings.STATEMENT_MIN_SECONDS,
        "max_seconds": round(settings.STATEMENT_MAX_SECONDS),
        "max_mb": settings.STATEMENT_MAX_BYTES // (1024 * 1024),
    }
    return render(request, "portal/statement.html", context, status=status)


def statement_recording(request, code):
    """The person's own recording; no one else's, never cached (a 404 for anyone else, as for samples)."""
    request.person = signed_in_person(request)
    if request.person is None or identity_step(request):
        raise Http404
    found = selectors.statement_get_for_person(person=request.person, code=code)
    if not found.file:
        raise Http404
    return previews.statement_response(found, request.headers.get("Range", ""))
