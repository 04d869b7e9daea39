"""Reads of the back-office that the shared consent selectors do not cover, always scoped to one organisation."""

from datetime import datetime, timedelta

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
from identity.models import Organization


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
