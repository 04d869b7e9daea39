"""The providers' back-office for consent: requests, consents and the audit trail of one organisation."""

import json
from datetime import datetime, time, timedelta

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from consent import previews, selectors, services
from consent.models import ConsentRequest, Presentation
from consent.office import charts
from consent.office import selectors as office_selectors
from consent.office.access import office_membership, office_view, render_office
from consent.office.forms import CancelForm, ConsentFilterForm, ItemFormSet, RequestFilterForm, RequestForm
from consent.services import ItemInput, RequestInput, SampleInput
from consent.templatetags.consent_labels import operation_labels
from errors.surfaces import errors_as_messages, errors_on_form
from identity.decorators import office_required

PAGE_SIZE = 50


def _page(request, queryset):
    return Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))


def _filters(form) -> dict:
    """The valid filter values; an invalid one is ignored rather than failing the whole list."""
    form.is_valid()
    return {name: form.cleaned_data.get(name) or "" for name in form.fields}


PERIODS = (7, 30, 90)


@office_required
def dashboard(request):
    """What needs attention in one organisation, its figures and its last 7, 30 or 90 days in charts."""
    if not request.user.memberships.exists():  # platform staff, or removed from every organisation
        return render(request, "office/dashboard.html", {"no_membership": True})
    membership = office_membership(request)  # someone else's organisation (?org=) is a 404, as on every page
    organization = membership.organization
    days = int(request.GET["days"]) if request.GET.get("days") in {str(p) for p in PERIODS} else 30
    now = timezone.now()
    first = timezone.localdate(now) - timedelta(days=days - 1)
    since = timezone.make_aware(datetime.combine(first, time.min))
    request_series = [(state.value, state.label) for state in ConsentRequest.State]
    presentation_series = [(result.value, result.label) for result in Presentation.Result]
    context = {
        "counts": office_selectors.dashboard_counts(organization=organization, now=now),
        "expiring_requests": office_selectors.requests_about_to_expire(organization=organization, now=now),
        "failing_webhooks": office_selectors.webhook_events_failing(organization=organization),
        "failed_notifications": office_selectors.notifications_failed(organization=organization),
        "days": days,
        "periods": PERIODS,
        "request_chart": charts.stacked_bars(
            title=_("Requests per day, by outcome"),
            counts=office_selectors.requests_per_day(organization=organization, since=since),
            series=request_series,
            first=first,
            days=days,
        ),
        "presentation_chart": charts.stacked_bars(
            title=_("Presentations per day, accepted and refused"),
            counts=office_selectors.presentations_per_day(organization=organization, since=since),
            series=presentation_series,
            first=first,
            days=days,
        ),
    }
    return render_office(request, "office/dashboard.html", membership, context)


@office_view()
def request_list(request, membership):
    form = RequestFilterForm(request.GET)
    requests = selectors.requests_for_operator(organization=membership.organization, **_filters(form))
    return render_office(request, "office/requests.html", membership, {"form": form, "page": _page(request, requests)})


def _request_input(form, item_forms) -> RequestInput:
    data = form.cleaned_data
    items = [
        ItemInput(
            modality=item.cleaned_data["modality"],
            operations=list(item.cleaned_data["operations"]),
            purpose=item.cleaned_data["purpose"],
            usage=item.cleaned_data["usage"],
            valid_until=item.cleaned_data["valid_until"],
            samples=[SampleInput(name=f.name, content=f.read()) for f in item.cleaned_data["samples"]],
        )
        for item in item_forms
    ]
    return RequestInput(
        phone=data["phone"],
        email=data["email"],
        language=data["language"],
        expires_in_days=data["expires_in_days"],
        end_user_reference=data["end_user_reference"],
        end_user_verification_method=data["end_user_verification_method"],
        end_user_verification_reference=data["end_user_verification_reference"],
        end_user_verified_at=data["end_user_verified_at"],
        end_user_prompted_to_notify=data["end_user_prompted_to_notify"],
        notice_retention=data["notice_retention"],
        notice_withdrawal=data["notice_withdrawal"],
        notice_recipients=data["notice_recipients"],
        items=items,
    )


@office_view(write=True)
def request_new(request, membership):
    form = RequestForm(request.POST or None)
    items = ItemFormSet(request.POST or None, request.FILES or None, prefix="items")
    if request.method == "POST" and all([form.is_valid(), items.is_valid()]):
        item_forms = [item for item in items if item.has_changed()]  # a blank second item is ignored
        # The service names an item's field "items[1].samples[0]": that goes on the second item's form.
        subforms = {f"items[{index}].": item for index, item in enumerate(item_forms)}
        with errors_on_form(form, subforms=subforms):
            consent_request = services.request_create(
                actor=request.user, organization=membership.organization, data=_request_input(form, item_forms)
            )
            messages.success(
                request, _("Request #%(id)s created; the person is notified by SMS.") % {"id": consent_request.pk}
            )
            return redirect("consent_office:request", pk=consent_request.pk)
    return render_office(request, "office/request_new.html", membership, {"form": form, "items": items})


def _request_detail(request, membership, pk, *, cancel_form=None, status=200):
    consent_request = selectors.request_get_for_operator(organization=membership.organization, request_id=pk)
    items = [(item, json.loads(item.terms_json)) for item in consent_request.items.all()]
    context = {
        "consent_request": consent_request,
        "items": items,
        "is_pending": consent_request.state == ConsentRequest.State.PENDING,
        "cancel_form": cancel_form or CancelForm(),
    }
    return render_office(request, "office/request_detail.html", membership, context, status=status)


@office_view()
def request_detail(request, membership, pk):
    return _request_detail(request, membership, pk)


@require_POST
@office_view(write=True)
def request_resend(request, membership, pk):
    with errors_as_messages(request):
        services.request_notify_again(actor=request.user, organization=membership.organization, request_id=pk)
        messages.success(request, _("The notification is being sent again."))
    return redirect("consent_office:request", pk=pk)


@require_POST
@office_view(write=True)
def request_cancel(request, membership, pk):
    form = CancelForm(request.POST)
    if not form.is_valid():
        return _request_detail(request, membership, pk, cancel_form=form, status=400)
    with errors_as_messages(request):
        services.request_cancel(actor=request.user, organization=membership.organization, request_id=pk)
        messages.success(request, _("Request cancelled. Items not yet decided can no longer be granted."))
    return redirect("consent_office:request", pk=pk)


@office_view()
def consent_list(request, membership):
    form = ConsentFilterForm(request.GET)
    consents = selectors.consents_for_operator(organization=membership.organization, **_filters(form))
    return render_office(request, "office/consents.html", membership, {"form": form, "page": _page(request, consents)})


@office_view()
def consent_detail(request, membership, pk):
    consent = selectors.consent_get_for_operator(organization=membership.organization, consent_id=pk)
    context = {
        "consent": consent,
        "operations": operation_labels(consent.operations),
        "terms": json.loads(consent.terms_json),
        "samples": consent.item.samples.all(),
        "presentations": office_selectors.presentations_for_consent(consent=consent),
        "artifacts": office_selectors.artifacts_for_consent(consent=consent),
    }
    return render_office(request, "office/consent_detail.html", membership, context)


@office_view()
def audit_list(request, membership):
    events = office_selectors.audit_events_for_organization(organization=membership.organization)
    return render_office(request, "office/audit.html", membership, {"page": _page(request, events)})


def sample_preview(request, pk):
    """A reference sample for an operator of the requesting organisation (any role); others get a 404.

    A 404 also before sign-in (no login redirect): the link must not confirm that a sample id exists.
    """
    if not request.user.is_authenticated or not request.user.is_verified():
        raise Http404
    sample = selectors.sample_get_for_operator(user=request.user, sample_id=pk)
    try:
        return previews.sample_response(sample, request.headers.get("Range", ""))
    except ValidationError as exc:  # an image past the pixel limit is never decoded
        raise Http404 from exc
