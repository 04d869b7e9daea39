"""Reads of the back-office that the shared consent selectors do not cover, always scoped to one organisation."""

from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.db.models.functions import TruncDate
from django.http import Http404
from django.utils import timezone

from audit.models import AuditEvent
from consent.models import (
    ApiKey,
    Artifact,
    Consent,
    ConsentRequest,
    Notification,
    Presentation,
    WebhookEndpoint,
    WebhookEvent,
)
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


def artifacts_for_consent(*, consent: Consent) -> dict[str, Artifact]:
    """The signed records that exist, by kind: the grant's, and the withdrawal's once the consent is withdrawn."""
    return {artifact.kind: artifact for artifact in consent.artifacts.all()}


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


# ---- dashboard ----------------------------------------------------------------------------------
# Every figure is one aggregate query in the database, so the page costs the same for ten requests or a
# million (tests/consent/test_dashboard.py holds the query budget).

EXPIRING_WITHIN = timedelta(days=30)
ABOUT_TO_EXPIRE_WITHIN = timedelta(days=2)
ATTENTION_ROWS = 10


def dashboard_counts(*, organization: Organization, now: datetime) -> dict:
    week_start = now - timedelta(days=7)
    requests = ConsentRequest.objects.filter(organization=organization).aggregate(
        open=Count("pk", filter=Q(state=ConsentRequest.State.PENDING)),
        decided_this_week=Count(
            "pk", filter=Q(state=ConsentRequest.State.COMPLETED, closed_at__gte=week_start, closed_at__lte=now)
        ),
    )
    consents = Consent.objects.filter(organization=organization, state=Consent.State.ACTIVE).aggregate(
        active=Count("pk"),
        expiring=Count("pk", filter=Q(valid_until__lte=now + EXPIRING_WITHIN)),
    )
    refused = Presentation.objects.filter(
        organization=organization, result=Presentation.Result.INACTIVE, created_at__gte=now - timedelta(hours=24)
    ).count()
    return {**requests, **consents, "refused_24h": refused}


def requests_about_to_expire(*, organization: Organization, now: datetime):
    return ConsentRequest.objects.filter(
        organization=organization,
        state=ConsentRequest.State.PENDING,
        expires_at__gt=now,
        expires_at__lte=now + ABOUT_TO_EXPIRE_WITHIN,
    ).order_by("expires_at")[:ATTENTION_ROWS]


def webhook_events_failing(*, organization: Organization):
    """Events that gave up, or are still retrying after a failed attempt."""
    retrying = Q(state=WebhookEvent.State.PENDING, attempts__gt=0)
    return WebhookEvent.objects.filter(
        Q(state=WebhookEvent.State.FAILED) | retrying, organization=organization
    ).order_by("-created_at")[:ATTENTION_ROWS]


def notifications_failed(*, organization: Organization):
    return (
        Notification.objects.filter(request__organization=organization, state=Notification.State.FAILED)
        .select_related("request")
        .order_by("-created_at")[:ATTENTION_ROWS]
    )


def _per_day(queryset, *, field: str, key: str, since: datetime) -> dict:
    """{(date, key value): count}, grouped by the local calendar day in the database."""
    rows = (
        queryset.filter(**{f"{field}__gte": since})
        .annotate(day=TruncDate(field, tzinfo=timezone.get_current_timezone()))
        .values("day", key)
        .annotate(n=Count("pk"))
        .order_by()
    )
    return {(row["day"], row[key]): row["n"] for row in rows}


def requests_per_day(*, organization: Organization, since: datetime) -> dict:
    """Requests by the day they were created, keyed by their state today (pending, decided, cancelled, expired)."""
    return _per_day(
        ConsentRequest.objects.filter(organization=organization), field="created_at", key="state", since=since
    )


def presentations_per_day(*, organization: Organization, since: datetime) -> dict:
    return _per_day(
        Presentation.objects.filter(organization=organization), field="created_at", key="result", since=since
    )
