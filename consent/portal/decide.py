"""The person's decision journey: SMS link → sign in → summary → real name → one card per item → done.

Before sign-in the link shows only what the SMS already said (who asks, for face or voice, how many
items, until when); the terms and samples appear after the SMS code, the decision after the real-name check.
"""

import json

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from consent import previews, selectors, services
from consent.errors import ConsentError, NotForThisPerson
from consent.models import ConsentRequest, RequestItem
from consent.portal.forms import DenyForm, GrantForm
from consent.templatetags.consent_labels import modality_label
from errors import ApplicationError
from errors.surfaces import errors_as_messages, form_error_add
from identity.crypto import mask_phone
from identity.decorators import identity_required, identity_step, signed_in_person
from identity.errors import IdentityError
from identity.net import client_ip
from identity.portal_views import signin_start
from identity.services import sms_code_wait_seconds

# The organisation's name in the grant SMS is cut so that the whole text stays one 70-character segment.
SMS_ORG_CHARS = 12


def _terms(item) -> dict:
    return json.loads(item.terms_json)


def _landing(request, consent_request, *, error=None, status=200):
    context = {
        "r": consent_request,
        "modalities": sorted({item.get_modality_display() for item in consent_request.items.all()}),
        "masked_phone": mask_phone(consent_request.person_phone),
        "error": error,
        "cooldown_days": settings.CONSENT_DENIAL_COOLDOWN_DAYS,
    }
    return render(request, "portal/landing.html", context, status=status)


def request_detail(request, code):
    """The SMS link: a landing page for a visitor, the summary before the real-name step, then the decisions."""
    person = signed_in_person(request)
    if person is None:
        consent_request = selectors.request_get_for_landing(code=code)
        if consent_request is None:
            return render(request, "portal/request_missing.html", status=404)
        return _landing(request, consent_request)
    request.person = person
    try:
        services.request_open(person=person, code=code)
    except ConsentRequest.DoesNotExist:
        return render(request, "portal/request_missing.html", status=404)
    except NotForThisPerson as exc:
        return render(request, "portal/request_other_phone.html", {"message": str(exc)}, status=403)
    consent_request = selectors.request_get_for_person(person=person, code=code)
    items = [(item, _terms(item)) for item in consent_request.items.all()]
    context = {
        "consent_request": consent_request,
        "items": items,
        "cooldown_days": settings.CONSENT_DENIAL_COOLDOWN_DAYS,
    }
    step = identity_step(request)
    if step:
        context["identity_url"] = step["Location"]
        return render(request, "portal/request_summary.html", context)
    context["open_items"] = [item for item, _terms in items if item.state == RequestItem.State.PENDING]
    if consent_request.statement_required:
        context["statement"] = selectors.statement_of_request(consent_request)
        context["statement_blocks"] = not (context["statement"] and context["statement"].lets_grant)
    return render(request, "portal/request.html", context)


@require_POST
def landing_signin(request, code):
    """ "Send the code to 139****5678": the number the SMS went to, never shown or typed in full."""
    consent_request = selectors.request_get_for_landing(code=code)
    if consent_request is None:
        return render(request, "portal/request_missing.html", status=404)
    error = signin_start(request, phone=consent_request.person_phone, next_url=reverse("portal:request", args=[code]))
    if error:
        return _landing(request, consent_request, error=str(error), status=429)
    return redirect("signin:code")


def _after_decision(request, code):
    """The next open item, or the completion page once every item is decided."""
    open_items = selectors.items_open_for_person(person=request.person, code=code)
    if not open_items:
        return redirect("portal:done", code=code)
    names = "、".join(_("item %(n)s") % {"n": item.position} for item in open_items)
    messages.info(request, _("Still open: %(items)s.") % {"items": names})
    return redirect(reverse("portal:request", args=[code]) + f"#item-{open_items[0].pk}")


def _sms_subject(item) -> str:
    return f"{item.request.organization.name[:SMS_ORG_CHARS]}·{modality_label(item.modality, 'zh-hans')}"


@require_POST
@identity_required
def item_code(request, code, item_id):
    item = selectors.item_get_for_person(person=request.person, code=code, item_id=item_id)
    try:
        services.item_grant_code_send(
            person=request.person, item_id=item.pk, ip=client_ip(request), subject=_sms_subject(item)
        )
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
            services.item_grant(person=request.person, item_id=item.pk, code=form.cleaned_data["code"])
        except ConsentError as exc:
            messages.error(request, str(exc))
            return redirect("portal:request", code=code)
        except IdentityError as exc:  # the code: wrong, expired or used up
            form_error_add(form, exc, field="code")
        else:
            messages.success(
                request,
                _("Item %(n)s granted, for this item only. You can withdraw it at any time.") % {"n": item.position},
            )
            return _after_decision(request, code)
    context = {
        "item": item,
        "terms": _terms(item),
        "form": form,
        "code": code,
        "wait": sms_code_wait_seconds(person=request.person),
    }
    return render(request, "portal/grant.html", context)


@identity_required
def item_deny(request, code, item_id):
    """Asks first (what a "no" means: the cool-down, blocking), then records the refusal on POST."""
    item = selectors.item_get_for_person(person=request.person, code=code, item_id=item_id)
    form = DenyForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        with errors_as_messages(request):
            services.item_deny(person=request.person, item_id=item.pk, reason=form.cleaned_data["reason"])
            messages.success(
                request,
                _("You said no to item %(n)s. The organisation is told; nothing may be done with it.")
                % {"n": item.position},
            )
            return _after_decision(request, code)
        return redirect("portal:request", code=code)
    context = {
        "item": item,
        "terms": _terms(item),
        "form": form,
        "code": code,
        "cooldown_days": settings.CONSENT_DENIAL_COOLDOWN_DAYS,
    }
    return render(request, "portal/deny.html", context, status=400 if form.errors else 200)


@identity_required
def done(request, code):
    consent_request = selectors.request_get_for_person(person=request.person, code=code)
    return render(request, "portal/done.html", {"consent_request": consent_request})


def sample(request, code, item_id, sample_id):
    """The person's own photo (as a thumbnail) or recording; no one else's, never cached.

    Anyone but the verified person whose request it is gets a 404, not a sign-in redirect: an <img> or
    <audio> cannot follow one usefully, and a redirect would confirm that the sample exists.
    """
    request.person = signed_in_person(request)
    if request.person is None or identity_step(request):
        raise Http404
    found = selectors.sample_get_for_person(person=request.person, code=code, item_id=item_id, sample_id=sample_id)
    try:
        return previews.sample_response(found, request.headers.get("Range", ""))
    except ValidationError as exc:  # an image past the pixel limit is never decoded
        raise Http404 from exc
