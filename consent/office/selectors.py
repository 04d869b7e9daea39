"""Reads of the back-office that the shared consent selectors do not cover, always scoped to one organisation."""

from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import Http404

from audit.models import AuditEvent
from consent.models import ApiKey, Artifact, Consent, Presentation, WebhookEndpoint, WebhookEvent
from identity.crypto import blind_index
from identity.models import Organization, Person
from identity.validators import validate_resident_id


def audit_events_for_organization(*, organization: Organization):
    # The indexed column, set by audit.record for every event that concerns an organisation.
    return AuditEvent.objects.filter(organization_id=organization.pk).order_by("-seq")


def api_keys_for_organization(*, organization: Organization):
    return ApiKey.objects.filter(organization=organization).select_related("created_by").order_by("-created_at", "-id")


def api_key_get_for_operator(*, organization: Organization, key_id: int) -> ApiKey:
    key = ApiKey.objects.filter(pk=key_id, organization=organization).first()
    if key is None:
        raise Http404
    return key


def presentations_for_consent(*, consent: Consent):
    return consent.presentations.select_related("api_key").order_by("-created_at", "-id")


def grant_artifact_for_consent(*, consent: Consent) -> Artifact | None:
    return consent.artifacts.filter(kind=Artifact.Kind.GRANT).first()


def webhook_endpoint_for_organization(*, organization: Organization) -> WebhookEndpoint | None:
    return WebhookEndpoint.objects.filter(organization=organization).first()


def webhook_events_for_organization(*, organization: Organization):
    return WebhookEvent.objects.filter(organization=organization).prefetch_related("deliveries")


def webhook_event_get_for_operator(*, organization: Organization, event_id: int) -> WebhookEvent:
    event = WebhookEvent.objects.filter(pk=event_id, organization=organization).first()
    if event is None:
        raise Http404
    return event


def people_matching(*, query: str):
    """Person ids for a search box: an exact resident ID number through its blind index, else a phone fragment.

    The ID number is never stored in clear, so only an exact, valid number can match (its keyed HMAC).
    A masked phone as shown on screen (`+86138****5678`) matches on its visible ends.
    """
    query = query.strip().replace(" ", "")
    try:
        number = validate_resident_id(query).number
    except ValidationError:
        number = None
    if number:
        return Person.objects.filter(id_number_index=blind_index(number, purpose="id_number")).values("pk")
    if "*" not in query:
        return Person.objects.filter(phone__contains=query).values("pk")
    head, tail = query.split("*", 1)[0], query.rsplit("*", 1)[-1]
    if not head and not tail:
        return Person.objects.none().values("pk")
    return Person.objects.filter(phone__startswith=head, phone__endswith=tail).values("pk")


def requests_search(requests, *, query: str):
    """Requests about the people a search names (see `people_matching`), or sent to a phone that matches."""
    if not query.strip():
        return requests
    people = people_matching(query=query)
    fragment = query.strip().replace(" ", "")
    by_phone = Q(person_phone__contains=fragment) if "*" not in fragment else Q(pk__in=[])
    return requests.filter(Q(person__in=people) | by_phone)


def consents_search(consents, *, query: str):
    return consents.filter(person__in=people_matching(query=query)) if query.strip() else consents


def presentations_for_organization(
    *,
    organization: Organization,
    consent: str = "",
    api_key: ApiKey | None = None,
    operation: str = "",
    result: str = "",
    since=None,
    until=None,
    q: str = "",
):
    """Every use of every consent of the organisation, newest first; each filter narrows when given."""
    rows = Presentation.objects.filter(organization=organization).select_related("api_key", "consent")
    if consent:
        rows = rows.filter(consent_id=consent)
    if api_key:
        rows = rows.filter(api_key=api_key)
    if operation:
        rows = rows.filter(operation=operation)
    if result:
        rows = rows.filter(result=result)
    if since:
        rows = rows.filter(created_at__date__gte=since)
    if until:
        rows = rows.filter(created_at__date__lte=until)
    if q.strip():
        rows = rows.filter(consent__person__in=people_matching(query=q))
    return rows.order_by("-created_at", "-id")


def webhook_deliveries_for_organization(*, organization: Organization, state: str = ""):
    events = webhook_events_for_organization(organization=organization).order_by("-created_at", "-id")
    return events.filter(state=state) if state else events


def audit_events_filtered(*, organization: Organization, action: str = "", since=None, until=None):
    events = audit_events_for_organization(organization=organization)
    if action:
        events = events.filter(action__startswith=action)
    if since:
        events = events.filter(time__date__gte=since)
    if until:
        events = events.filter(time__date__lte=until)
    return events
