"""The person's portal: their requests, separate decisions, consents, revocation and blocks."""

import json

from django.contrib import messages
from django.contrib.auth import logout
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from consent import selectors, services
from consent.models import Consent
from consent.portal.forms import DeleteAccountForm, RevokeForm
from errors.surfaces import errors_as_messages
from identity.decorators import identity_required
from identity.models import Organization

USES_PER_PAGE = 20
OUTPUTS_SHOWN = 100


def _terms(item) -> dict:
    return json.loads(item.terms_json)


@identity_required
def home(request):
    person = request.person
    consents = list(selectors.consents_for_person(person=person).order_by("-granted_at", "-pk"))
    blocks = list(person.blocks.select_related("organization").order_by("organization__name"))
    blocked_ids = {block.organization_id for block in blocks}
    context = {
        "person": person,
        "pending": selectors.requests_pending_for_person(person=person),
        "active": [c for c in consents if c.state == Consent.State.ACTIVE],
        "withdrawn": [c for c in consents if c.state == Consent.State.REVOKED],
        "expired": [c for c in consents if c.state == Consent.State.EXPIRED],
        "denied": selectors.denied_items_for_person(person=person),
        "past_requests": selectors.requests_past_for_person(person=person),
        "blocks": blocks,
        "blockable": [o for o in selectors.organizations_asking_person(person=person) if o.pk not in blocked_ids],
    }
    return render(request, "portal/home.html", context)


@identity_required
def consent_detail(request, consent_id):
    consent = selectors.consent_get_for_person(person=request.person, consent_id=consent_id)
    # get_page: a page number out of range or not a number shows the last or first page, never an error.
    uses = Paginator(selectors.presentations_for_consent(consent=consent), USES_PER_PAGE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "portal/consent.html",
        {
            "consent": consent,
            "terms": json.loads(consent.terms_json),
            "form": RevokeForm(),
            "uses": uses,
            "outputs": selectors.outputs_for_consent(consent=consent)[:OUTPUTS_SHOWN],
            "outputs_count": selectors.outputs_for_consent(consent=consent).count(),
            "show_thumbnails": selectors.output_thumbnails_shown(person=request.person),
            "notices": selectors.notifications_for_consent(person=request.person, consent=consent),
        },
    )


@require_POST
@identity_required
def output_display(request, consent_id):
    """Opt in to (or out of) the thumbnails services send with their outputs; back to the consent."""
    consent = selectors.consent_get_for_person(person=request.person, consent_id=consent_id)
    show = request.POST.get("show_thumbnails") == "1"
    services.output_display_set(actor=request.person, show_thumbnails=show)
    if show:
        messages.success(request, _("Thumbnails of outputs are shown. You can hide them again at any time."))
    else:
        messages.success(request, _("Thumbnails of outputs are hidden."))
    return redirect(f"{reverse('portal:consent', args=[consent.pk])}#outputs-heading")


@never_cache
@identity_required
def output_thumbnail(request, consent_id, receipt_id):
    output = selectors.output_get_for_person(person=request.person, consent_id=consent_id, receipt_id=receipt_id)
    if not output.thumbnail or not selectors.output_thumbnails_shown(person=request.person):
        raise Http404
    return HttpResponse(bytes(output.thumbnail), content_type="image/jpeg")


@identity_required
def consent_revoke(request, consent_id):
    consent = selectors.consent_get_for_person(person=request.person, consent_id=consent_id)
    form = RevokeForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        with errors_as_messages(request):
            services.consent_revoke(person=request.person, consent_id=consent.pk, reason=form.cleaned_data["reason"])
            messages.success(request, _("Consent withdrawn. Services can no longer use it."))
        return redirect("portal:consent", consent_id=consent.pk)
    return render(request, "portal/revoke.html", {"consent": consent, "form": form})


@require_POST
@identity_required
def organization_block(request, organization_id):
    try:
        services.organization_block(person=request.person, organization_id=organization_id)
    except Organization.DoesNotExist:
        return redirect("portal:home")
    messages.success(request, _("Blocked. This organisation can no longer send you requests."))
    return redirect("portal:home")


@require_POST
@identity_required
def organization_unblock(request, organization_id):
    services.organization_unblock(person=request.person, organization_id=organization_id)
    messages.success(request, _("Unblocked."))
    return redirect("portal:home")


@never_cache  # all of a person's data, identity number included
@require_POST
@identity_required
def export(request):
    data = services.person_export(person=request.person)
    response = HttpResponse(data, content_type="application/zip")
    response["Content-Disposition"] = 'attachment; filename="my-likeness-consents.zip"'
    return response


@identity_required
def delete_account(request):
    form = DeleteAccountForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        services.person_delete(person=request.person)
        logout(request)
        messages.success(
            request,
            _(
                "Your account is deleted: consents withdrawn, open requests refused, name, ID number, phone number "
                "and samples erased. The signed records of your decisions are kept as proof, with masked identity "
                "data and the samples' fingerprints only."
            ),
        )
        return redirect("signin:phone")
    return render(request, "portal/delete.html", {"form": form})
