"""Reads of the back-office that the shared consent selectors do not cover, always scoped to one organisation."""

from django.http import Http404

from audit.models import AuditEvent
from consent.models import ApiKey, Artifact, Consent, WebhookEndpoint, WebhookEvent
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
