"""The office lists that the views share: the presentations page, and every list's CSV export.

An export is streamed (the rows never sit in memory all at once), recorded on the organisation's audit
trail before the first byte leaves, and written in words, as the pages are.
"""

import csv
import secrets
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponseRedirect, QueryDict, StreamingHttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from consent import services
from consent.models import Modality
from consent.office import selectors as office_selectors
from consent.office.access import office_view, render_office
from consent.office.forms import PresentationFilterForm
from consent.templatetags.consent_labels import (
    audit_action_label,
    audit_target_label,
    delivery_error,
    operation_labels,
    verify_reason_label,
    webhook_event_label,
)
from identity.crypto import mask_id_number, mask_phone
from identity.validators import validate_resident_id

# A cell a spreadsheet would run as a formula (CSV injection, OWASP): end-user references and reasons come
# from services' API calls, so they are not trusted text.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


PAGE_SIZE = 50


# A search for a person (an ID number, a phone number) stays out of URLs, where browser history, proxies
# and access logs would keep it: the filter form is posted, the personal values are kept in the session
# under a random reference, and the list's URL carries only `search=<reference>` beside the other filters.
SEARCH_REFERENCE = "search"
_SEARCHES = "office_searches"
_SEARCHES_KEPT = 20


def filter_data(request, form_class) -> QueryDict | HttpResponseRedirect:
    """The filter values of a list whose form has personal fields; a POST of that form is answered
    with a redirect (303) to the list's URL without them."""
    personal = form_class.personal_fields
    saved = request.session.get(_SEARCHES, {})
    if request.method == "POST":
        public = {
            name: value
            for name, value in request.POST.items()
            if name in form_class.base_fields and name not in personal and value
        }
        kept = {name: request.POST[name].strip() for name in personal if request.POST.get(name, "").strip()}
        if kept:
            reference = secrets.token_urlsafe(12)
            saved[reference] = kept
            request.session[_SEARCHES] = dict(list(saved.items())[-_SEARCHES_KEPT:])
            public[SEARCH_REFERENCE] = reference
        return HttpResponseRedirect(f"{request.path}?{urlencode(public)}" if public else request.path, status=303)
    data = request.GET.copy()
    for name in personal:
        data.pop(name, None)  # only ever from the session: a link must not be able to carry one
    reference = request.GET.get(SEARCH_REFERENCE, "")
    if reference:
        if reference in saved:
            data.update(saved[reference])
        else:
            messages.warning(request, _("That search has expired. Enter the person again."))
    return data


def searchable_list(request, membership, *, form_class, rows, list_name: str, header, row, template: str):
    """A list page with a person search and other filters, or its CSV export (`?format=csv`).

    `rows(q, **filters)` gives the organisation's rows for the search `q` and the form's other filters.
    """
    data = filter_data(request, form_class)
    if isinstance(data, HttpResponseRedirect):
        return data
    form = form_class(data)
    filters = _filters(form)
    query = filters.pop("q")
    queryset = rows(query, **filters)
    if wants_csv(request):
        return csv_response(
            request,
            membership,
            list_name=list_name,
            filters={**filters, "q": query},
            header=header(),
            queryset=queryset,
            row=row,
        )
    return render_office(request, template, membership, {"form": form, "page": _page(request, queryset)})


def _page(request, queryset):
    return Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))


def _filters(form) -> dict:
    """The valid filter values; an invalid one is ignored rather than failing the whole list."""
    form.is_valid()
    return {name: form.cleaned_data.get(name) or "" for name in form.fields}


class _Echo:
    def write(self, value):
        return value


def _cell(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _when(value) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S") if value else ""


def _masked_query(query: str) -> str:
    """The search as the append-only audit trail may keep it: an ID number or a whole phone number masked."""
    query = query.strip()
    try:
        return mask_id_number(validate_resident_id(query).number)
    except ValidationError:
        pass
    return mask_phone(query) if sum(c.isdigit() for c in query) >= 8 else query


def wants_csv(request) -> bool:
    return request.GET.get("format") == "csv"


def csv_response(
    request, membership, *, list_name: str, filters: dict, header: list, queryset, row
) -> StreamingHttpResponse:
    """Record the export, then stream the filtered rows as CSV (UTF-8 with a BOM, so spreadsheets read Chinese)."""
    services.office_export_record(
        actor=request.user,
        organization=membership.organization,
        list_name=list_name,
        filters={**filters, "q": _masked_query(filters.get("q", ""))},
        rows=queryset.count(),
    )
    writer = csv.writer(_Echo())

    def lines():
        yield "\ufeff" + writer.writerow([_cell(h) for h in header])
        for obj in queryset.iterator(chunk_size=500):
            yield writer.writerow([_cell(v) for v in row(obj)])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="{list_name}-{stamp}.csv"'
    response["Cache-Control"] = "no-store"
    return response


def request_row(r):
    items = "; ".join(f"{item.get_modality_display()}: {item.get_state_display()}" for item in r.items.all())
    return [
        r.pk,
        _when(r.created_at),
        mask_phone(r.person_phone),
        items,
        r.get_state_display(),
        r.end_user_reference,
        _when(r.expires_at),
    ]


def request_header():
    return ["#", _("Created"), _("Phone"), _("Items"), _("State"), _("End user"), _("Open until")]


def consent_row(c):
    return [
        c.pk,
        _when(c.granted_at),
        c.person.legal_name_masked,
        c.get_modality_display(),
        ", ".join(operation_labels(c.operations)),
        c.get_state_display(),
        c.valid_until.isoformat() if c.valid_until else "",
        c.item.request_id,
    ]


def consent_header():
    return ["#", _("Granted"), _("Person"), _("Modality"), _("Operations"), _("State"), _("Valid until"), _("Request")]


def audit_row(event):
    target = f"{audit_target_label(event.target_type)} #{event.target_id}" if event.target_type else ""
    return [event.seq, _when(event.time), event.actor_label, audit_action_label(event.action), target]


def audit_header():
    return ["#", _("Time"), _("Actor"), _("Action"), _("Target")]


def webhook_row(event):
    deliveries = list(event.deliveries.all())
    last = deliveries[0] if deliveries else None  # newest first
    outcome = ""
    if last:
        outcome = f"HTTP {last.status_code}" if last.status_code else delivery_error(last.error)
    return [
        _when(event.created_at),
        webhook_event_label(event.type),
        event.event_id,
        event.get_state_display(),
        len(deliveries),
        outcome,
    ]


def webhook_header():
    return [_("Created"), _("Event"), _("Event id"), _("State"), _("Attempts"), _("Last answer")]


def _presentation_row(p):
    return [
        p.pk,
        _when(p.created_at),
        p.consent_id or "",
        p.api_key.name,
        _modality(p.modality),
        ", ".join(operation_labels([p.operation])) if p.operation else "",
        p.get_result_display(),
        verify_reason_label(p.reason) if p.reason else "",
    ]


def _modality(value) -> str:
    return str(dict(Modality.choices).get(value, value))


def _presentation_header():
    return ["#", _("Time"), _("Consent"), _("API key"), _("Modality"), _("Operation"), _("Result"), _("Reason")]


@office_view()
def presentation_list(request, membership):
    """Every use of every consent of the organisation: which service presented which token, for what, and the answer."""
    data = filter_data(request, PresentationFilterForm)
    if isinstance(data, HttpResponseRedirect):
        return data
    form = PresentationFilterForm(data, organization=membership.organization)
    filters = _filters(form)
    rows = office_selectors.presentations_for_organization(organization=membership.organization, **filters)
    if wants_csv(request):
        return csv_response(
            request,
            membership,
            list_name="presentations",
            filters=filters,
            header=_presentation_header(),
            queryset=rows,
            row=_presentation_row,
        )
    page = _page(request, rows)
    table = [(p, _presentation_row(p)) for p in page]
    context = {"form": form, "page": page, "table": table, "header": _presentation_header()}
    return render_office(request, "office/presentations.html", membership, context)
