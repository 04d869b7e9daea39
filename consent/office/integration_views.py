"""Back-office pages for integrating services: API keys and the webhook endpoint with its delivery log.

Keys and the endpoint are the owners' to manage (they decide which systems act for the organisation);
operators may still send a failed event again.
"""

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from consent import services
from consent.office import lists
from consent.office import selectors as office_selectors
from consent.office.access import office_view, render_office, require_owner
from consent.office.forms import ApiKeyForm, WebhookDeleteForm, WebhookEndpointForm, WebhookFilterForm
from consent.office.lists import _filters
from consent.services import webhooks as webhook_services
from errors.surfaces import errors_as_messages, errors_on_form

PAGE_SIZE = 50


def _keys_page(request, membership, form=None, status=200):
    keys = office_selectors.api_keys_for_organization(organization=membership.organization)
    context = {"keys": keys, "form": form or ApiKeyForm()}
    return render_office(request, "office/keys.html", membership, context, status=status)


def _key_created(request, membership, key, plaintext, *, rotated=None):
    context = {"key": key, "plaintext": plaintext, "rotated": rotated}
    return render_office(request, "office/key_created.html", membership, context)


@office_view(owner=True)
def key_list(request, membership):
    return _keys_page(request, membership)


@never_cache
@require_POST
@office_view(owner=True)
def key_create(request, membership):
    form = ApiKeyForm(request.POST)
    if not form.is_valid():
        return _keys_page(request, membership, form, status=400)
    key, plaintext = services.api_key_create(
        actor=request.user,
        organization=membership.organization,
        name=form.cleaned_data["name"],
        scopes=form.cleaned_data["scopes"],
    )
    return _key_created(request, membership, key, plaintext)


@require_POST
@office_view(owner=True)
def key_revoke(request, membership, pk):
    key = office_selectors.api_key_get_for_operator(organization=membership.organization, key_id=pk)
    services.api_key_revoke(actor=request.user, organization=membership.organization, key_id=key.pk)
    messages.success(
        request, _("Key %(prefix)s is revoked; services using it are refused from now on.") % {"prefix": key.prefix}
    )
    return redirect("consent_office:keys")


@never_cache
@require_POST
@office_view(owner=True)
def key_rotate(request, membership, pk):
    old = office_selectors.api_key_get_for_operator(organization=membership.organization, key_id=pk)
    with errors_as_messages(request):
        key, plaintext = services.api_key_rotate(
            actor=request.user, organization=membership.organization, key_id=old.pk
        )
        return _key_created(request, membership, key, plaintext, rotated=old)
    return redirect("consent_office:keys")


def _webhooks_page(request, membership, *, form=None, delete_form=None, secret=None, status=200):
    organization = membership.organization
    endpoint = office_selectors.webhook_endpoint_for_organization(organization=organization)
    filter_form = WebhookFilterForm(request.GET)
    events = office_selectors.webhook_deliveries_for_organization(organization=organization, **_filters(filter_form))
    context = {
        "filter_form": filter_form,
        "endpoint": endpoint,
        "form": form or WebhookEndpointForm(initial={"url": endpoint.url} if endpoint else None),
        "delete_form": delete_form or WebhookDeleteForm(),
        "secret": secret,
        "page": Paginator(events, PAGE_SIZE).get_page(request.GET.get("page")),
    }
    return render_office(request, "office/webhooks.html", membership, context, status=status)


@never_cache
@office_view()
def webhook_settings(request, membership):
    if request.method != "POST" and lists.wants_csv(request):
        filters = _filters(WebhookFilterForm(request.GET))
        events = office_selectors.webhook_deliveries_for_organization(organization=membership.organization, **filters)
        return lists.csv_response(
            request,
            membership,
            list_name="webhooks",
            filters=filters,
            header=lists.webhook_header(),
            queryset=events,
            row=lists.webhook_row,
        )
    if request.method != "POST":
        return _webhooks_page(request, membership)
    require_owner(membership)
    form = WebhookEndpointForm(request.POST)
    if not form.is_valid():
        return _webhooks_page(request, membership, form=form, status=400)
    with errors_on_form(form):
        _endpoint, secret = webhook_services.webhook_endpoint_set(
            actor=request.user,
            organization=membership.organization,
            url=form.cleaned_data["url"],
            rotate_secret=form.cleaned_data["rotate_secret"],
        )
        messages.success(request, _("Webhook endpoint saved."))
        if secret:
            return _webhooks_page(request, membership, secret=secret)
        return redirect("consent_office:webhooks")
    return _webhooks_page(request, membership, form=form, status=400)


@require_POST
@office_view(owner=True)
def webhook_delete(request, membership):
    form = WebhookDeleteForm(request.POST)
    if not form.is_valid():
        return _webhooks_page(request, membership, delete_form=form, status=400)
    with errors_as_messages(request):
        webhook_services.webhook_endpoint_delete(actor=request.user, organization=membership.organization)
        messages.success(request, _("Webhook endpoint removed; events are no longer sent."))
    return redirect("consent_office:webhooks")


@require_POST
@office_view(write=True)
def webhook_event_resend(request, membership, pk):
    event = office_selectors.webhook_event_get_for_operator(organization=membership.organization, event_id=pk)
    with errors_as_messages(request):
        webhook_services.webhook_event_resend(
            actor=request.user, organization=membership.organization, event_id=event.pk
        )
        messages.success(request, _("Event %(id)s is queued for delivery again.") % {"id": event.event_id})
    return redirect("consent_office:webhooks")
