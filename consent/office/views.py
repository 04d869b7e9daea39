"""The providers' back-office for consent: requests, consents and the audit trail of one organisation."""

import json
from datetime import datetime, time, timedelta

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from consent import previews, selectors, services
from consent.errors import InvalidRequest
from consent.models import ConsentRequest, Presentation
from consent.office import charts, lists
from consent.office import selectors as office_selectors
from consent.office.access import office_membership, office_view, render_office
from consent.office.forms import (
    AuditFilterForm,
    CancelForm,
    ConsentFilterForm,
    ItemFormSet,
    RequestFilterForm,
    RequestForm,
)
from consent.office.lists import _filters, _page
from consent.services import ItemInput, RequestInput, SampleInput
from consent.templatetags.consent_labels import operation_labels
from consent.uploads import kept_discard
from errors.surfaces import errors_as_messages, errors_on_form, form_error_add
from identity.decorators import office_required

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
    return lists.searchable_list(
        request,
        membership,
        form_class=RequestFilterForm,
        rows=lambda q, **filters: office_selectors.requests_search(
            selectors.requests_for_operator(organization=membership.organization, **filters), query=q
        ),
        list_name="requests",
        header=lists.request_header,
        row=lists.request_row,
        template="office/requests.html",
    )


def _request_input(form, item_forms) -> RequestInput:
    """What the forms parsed, as the service's input; a field a form refused reads as empty (already flagged)."""
    data = form.cleaned_data
    items = [
        ItemInput(
            modality=item.cleaned_data.get("modality", ""),
            operations=list(item.cleaned_data.get("operations", [])),
            purpose=item.cleaned_data.get("purpose", ""),
            usage=item.cleaned_data.get("usage", ""),
            # A refused date is already an error on the form; any valid date lets the other checks run.
            valid_until=item.cleaned_data.get("valid_until") or timezone.localdate() + timedelta(days=1),
            samples=[SampleInput(name=f.name, content=_content(f)) for f in item.cleaned_data.get("samples", [])],
        )
        for item in item_forms
    ]
    return RequestInput(
        phone=data.get("phone", ""),
        email=data.get("email", ""),
        language=data.get("language", "zh-hans"),
        expires_in_days=data.get("expires_in_days") or 7,
        end_user_reference=data.get("end_user_reference", ""),
        end_user_verification_method=data.get("end_user_verification_method", ""),
        end_user_verification_reference=data.get("end_user_verification_reference", ""),
        end_user_verified_at=data.get("end_user_verified_at"),
        end_user_prompted_to_notify=data.get("end_user_prompted_to_notify", False),
        retention_days=data.get("retention_days"),
        notice_retention=data.get("notice_retention", ""),
        notice_withdrawal=data.get("notice_withdrawal", ""),
        notice_recipients=data.get("notice_recipients", []),
        statement_required=data.get("statement_required", False),
        items=items,
    )


def _content(upload) -> bytes:
    upload.seek(0)
    return upload.read()


def _check_the_rest(form, item_forms, subforms) -> None:
    """The forms refused something: add the service's own findings on the fields they did not flag."""
    try:
        services.request_check(data=_request_input(form, item_forms))
    except InvalidRequest as exc:
        fresh = {}
        for key, field_messages in exc.fields.items():
            if key == "items":  # the formset says so already
                continue
            target, name = form, key
            for prefix, subform in subforms.items():
                if key.startswith(prefix):
                    target, name = subform, key.removeprefix(prefix)
            if not target.errors.get(name.split("[")[0]):
                fresh[key] = field_messages
        if fresh:
            form_error_add(form, InvalidRequest(str(exc), fields=fresh), subforms=subforms)


@office_view(write=True)
def request_new(request, membership):
    form = RequestForm(request.POST or None)
    items = ItemFormSet(
        request.POST or None, request.FILES or None, prefix="items", form_kwargs={"user_id": request.user.pk}
    )
    if request.method == "POST":
        forms_valid = all([form.is_valid(), items.is_valid()])
        item_forms = [item for item in items if item.has_changed()]  # a blank second item is ignored
        # The service names an item's field "items[1].samples[0]": that goes on the second item's form.
        subforms = {f"items[{index}].": item for index, item in enumerate(item_forms)}
        if not forms_valid:
            _check_the_rest(form, item_forms, subforms)
        else:
            with errors_on_form(form, subforms=subforms):
                consent_request = services.request_create(
                    actor=request.user, organization=membership.organization, data=_request_input(form, item_forms)
                )
                for item in item_forms:
                    kept_discard(item.kept_token, user_id=request.user.pk)
                messages.success(
                    request, _("Request #%(id)s created; the person is notified by SMS.") % {"id": consent_request.pk}
                )
                return redirect("consent_office:request", pk=consent_request.pk)
        for item in item_forms:
            item.keep_samples()
    return render_office(request, "office/request_new.html", membership, {"form": form, "items": items})


def _request_detail(request, membership, pk, *, cancel_form=None, status=200):
    consent_request = selectors.request_get_for_operator(organization=membership.organization, request_id=pk)
    items = [(item, json.loads(item.terms_json)) for item in consent_request.items.all()]
    context = {
        "consent_request": consent_request,
        "items": items,
        "is_pending": consent_request.state == ConsentRequest.State.PENDING,
        "cancel_form": cancel_form or CancelForm(),
        "statement": selectors.statement_of_request(consent_request) if consent_request.statement_required else None,
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
    return lists.searchable_list(
        request,
        membership,
        form_class=ConsentFilterForm,
        rows=lambda q, **filters: office_selectors.consents_search(
            selectors.consents_for_operator(organization=membership.organization, **filters), query=q
        ),
        list_name="consents",
        header=lists.consent_header,
        row=lists.consent_row,
        template="office/consents.html",
    )


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
    form = AuditFilterForm(request.GET)
    filters = _filters(form)
    events = office_selectors.audit_events_filtered(organization=membership.organization, **filters)
    if lists.wants_csv(request):
        return lists.csv_response(
            request,
            membership,
            list_name="audit",
            filters=filters,
            header=lists.audit_header(),
            queryset=events,
            row=lists.audit_row,
        )
    return render_office(request, "office/audit.html", membership, {"form": form, "page": _page(request, events)})


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
