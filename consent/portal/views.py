"""The person's portal: their requests, separate decisions, consents, revocation and blocks."""

import json

from django.contrib import messages
from django.contrib.auth import logout
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from consent import selectors, services
from consent.errors import ConsentError, NotForThisPerson
from consent.models import Consent, ConsentRequest
from consent.portal.forms import DeleteAccountForm, DenyForm, GrantForm, RevokeForm
from errors import ApplicationError
from errors.surfaces import errors_as_messages, form_error_add
from identity.decorators import identity_required, identity_step, person_required
from identity.errors import IdentityError
from identity.models import Organization
from identity.net import client_ip

USES_PER_PAGE = 20


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


@person_required
def request_detail(request, code):
    try:
        services.request_open(person=request.person, code=code)
    except ConsentRequest.DoesNotExist:
        return render(request, "portal/request_missing.html", status=404)
    except NotForThisPerson as exc:
        return render(request, "portal/request_other_phone.html", {"message": str(exc)}, status=403)
    step = identity_step(request)
    if step:
        return step
    consent_request = selectors.request_get_for_person(person=request.person, code=code)
    items = [(item, _terms(item)) for item in consent_request.items.all()]
    return render(
        request,
        "portal/request.html",
        {"consent_request": consent_request, "items": items, "deny_form": DenyForm()},
    )


@require_POST
@identity_required
def item_code(request, code, item_id):
    item = selectors.item_get_for_person(person=request.person, code=code, item_id=item_id)
    try:
        services.item_grant_code_send(person=request.person, item_id=item.pk, ip=client_ip(request))
    except ApplicationError as exc:
        messages.error(request, str(exc))
        # A closed item goes back to the request; a send limit goes on to the code page, where an earlier code works.
        if isinstance(exc, ConsentError):
            return redirect("portal:request", code=code)
    return redirect("portal:item-grant", code=code, item_id=item.pk)


@identity_required
def item_grant(request, code, item_id):
    item = selectors.item_get_for_person(person=request.person, code=code, item_id=item_id)
    form = GrantForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            consent = services.item_grant(person=request.person, item_id=item.pk, code=form.cleaned_data["code"])
        except ConsentError as exc:
            messages.error(request, str(exc))
            return redirect("portal:request", code=code)
        except IdentityError as exc:  # the code: wrong, expired or used up
            form_error_add(form, exc, field="code")
        else:
            messages.success(request, _("Consent granted for this item only. You can withdraw it at any time."))
            return redirect("portal:consent", consent_id=consent.pk)
    return render(request, "portal/grant.html", {"item": item, "terms": _terms(item), "form": form, "code": code})


@require_POST
@identity_required
def item_deny(request, code, item_id):
    item = selectors.item_get_for_person(person=request.person, code=code, item_id=item_id)
    form = DenyForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("The reason is too long (500 characters at most)."))
        return redirect("portal:request", code=code)
    with errors_as_messages(request):
        services.item_deny(person=request.person, item_id=item.pk, reason=form.cleaned_data["reason"])
        messages.success(request, _("You said no to this item. The organisation is told; nothing may be done with it."))
    return redirect("portal:request", code=code)


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
        {"consent": consent, "terms": json.loads(consent.terms_json), "form": RevokeForm(), "uses": uses},
    )


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
