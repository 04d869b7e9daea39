"""Reads scoped by who is asking. A missing or foreign object is a 404, never a 403 that confirms it exists."""

import functools
import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection
from django.db.models import Prefetch, Q, QuerySet, prefetch_related_objects
from django.db.models.functions import Length
from django.http import Http404

from consent.models import (
    ApiKey,
    Consent,
    ConsentRequest,
    Notification,
    OrganizationSettings,
    Output,
    OutputDisplay,
    Presentation,
    RequestItem,
    Sample,
    Statement,
)
from hotsql import hot_cursor
from identity.models import Membership, Organization, Person, User


def _first_or_404(queryset):
    """The first row of an owner-scoped query, or a 404: another owner's object reads as no object."""
    row = queryset.first()
    if row is None:
        raise Http404
    return row


def membership_for_operator(*, user: User, organization_id: int | None = None) -> Membership:
    memberships = Membership.objects.select_related("organization").filter(user=user)
    if organization_id:
        memberships = memberships.filter(organization_id=organization_id)
    return _first_or_404(memberships.order_by("organization__name"))


def _items_prefetch():
    return Prefetch("items", queryset=RequestItem.objects.prefetch_related("samples").select_related("consent"))


def media_binding_required(*, organization: Organization) -> bool:
    """Whether verification needs the media's hash to be one of the samples'; off for an organisation never set."""
    try:
        return organization.consent_settings.require_media_binding
    except OrganizationSettings.DoesNotExist:
        return False


def request_items_attach(request: ConsentRequest) -> ConsentRequest:
    """Load the items of a request already in hand (with their samples and consents), to render it."""
    prefetch_related_objects([request], _items_prefetch())
    return request


def requests_for_operator(*, organization: Organization, state: str = "", phone: str = "", modality: str = ""):
    requests = ConsentRequest.objects.filter(organization=organization).prefetch_related("items")
    if state:
        requests = requests.filter(state=state)
    if phone:
        requests = requests.filter(person_phone__contains=phone.strip().replace(" ", ""))
    if modality:
        requests = requests.filter(items__modality=modality).distinct()
    return requests


def request_get_for_operator(*, organization: Organization, request_id: int) -> ConsentRequest:
    return _first_or_404(
        ConsentRequest.objects.filter(pk=request_id, organization=organization)
        .select_related("created_by_user", "created_by_key")
        .prefetch_related(_items_prefetch(), "notifications__attempts")
    )


def consents_for_operator(*, organization: Organization, state: str = ""):
    consents = Consent.objects.filter(organization=organization).select_related("person", "item__request")
    return consents.filter(state=state) if state else consents


def consent_get_for_operator(*, organization: Organization, consent_id: int) -> Consent:
    return _first_or_404(
        Consent.objects.filter(pk=consent_id, organization=organization).select_related(
            "person", "guardian", "item__request"
        )
    )


def consent_get_for_member(*, user: User, consent_id: int) -> Consent:
    """A consent of any organisation the operator belongs to (any role): for links that carry no `?org=`."""
    return _first_or_404(Consent.objects.filter(pk=consent_id, organization__memberships__user=user))


def request_get_for_person(*, person: Person, code: str) -> ConsentRequest:
    return _first_or_404(
        ConsentRequest.objects.filter(code=code, person=person)
        .select_related("organization")
        .prefetch_related(_items_prefetch())
    )


def item_get_for_person(*, person: Person, code: str, item_id: int) -> RequestItem:
    return _first_or_404(
        RequestItem.objects.filter(pk=item_id, request__code=code, request__person=person)
        .select_related("request__organization")
        .prefetch_related("samples")
    )


def requests_addressed_to_person(*, person: Person) -> QuerySet[ConsentRequest]:
    """Requests this person opened, plus unopened ones sent to their current number.

    Never "every request to this phone": a recycled number must not show a former holder's requests.
    """
    return ConsentRequest.objects.filter(Q(person=person) | Q(person__isnull=True, person_phone=person.phone))


def requests_pending_for_person(*, person: Person):
    return (
        requests_addressed_to_person(person=person)
        .filter(state=ConsentRequest.State.PENDING)
        .select_related("organization")
        .prefetch_related("items")
    )


def consents_for_person(*, person: Person):
    return Consent.objects.filter(person=person).select_related("organization", "item")


def denied_items_for_person(*, person: Person) -> QuerySet[RequestItem]:
    """Items this person said no to, newest first: a "no" is a decision they must be able to find again."""
    return (
        RequestItem.objects.filter(request__person=person, state=RequestItem.State.DENIED)
        .select_related("request__organization")
        .order_by("-decided_at", "-pk")
    )


def requests_past_for_person(*, person: Person) -> QuerySet[ConsentRequest]:
    """Closed requests this person opened (not every request to the phone: see requests_addressed_to_person)."""
    return (
        ConsentRequest.objects.filter(person=person)
        .exclude(state=ConsentRequest.State.PENDING)
        .select_related("organization")
        .prefetch_related("items")
        .order_by("-created_at", "-pk")
    )


def organizations_asking_person(*, person: Person) -> QuerySet[Organization]:
    """Organisations that sent this person a request they opened: the only ones the portal offers to block."""
    return Organization.objects.filter(requests__person=person).distinct().order_by("name")


def presentations_for_consent(*, consent: Consent) -> QuerySet[Presentation]:
    return Presentation.objects.filter(consent=consent).select_related("organization")


def notifications_for_consent(*, person: Person, consent: Consent) -> QuerySet[Notification]:
    """What we sent the person about this consent: its request's notices and its own, newest first.

    Scoped to the person here too (not only through the consent they were given), and never another
    consent's notices, even one from the same request.
    """
    return (
        Notification.objects.filter(
            request__items__consent__in=Consent.objects.filter(pk=consent.pk, person=person),
        )
        .filter(Q(consent__isnull=True) | Q(consent=consent))
        .prefetch_related("attempts")
        .order_by("-created_at", "-pk")
    )


def consent_get_for_person(*, person: Person, consent_id: int) -> Consent:
    return _first_or_404(
        Consent.objects.filter(pk=consent_id, person=person)
        .select_related("organization", "item__request", "guardian")
        .prefetch_related(
            Prefetch("item__samples", queryset=Sample.objects.all()),
            "artifacts",
        )
    )


def sample_get_for_person(*, person: Person, code: str, item_id: int, sample_id: int) -> Sample:
    """A sample of an item of a request this person opened, not yet erased; anything else is a 404."""
    return _first_or_404(
        Sample.objects.filter(
            pk=sample_id, item_id=item_id, item__request__code=code, item__request__person=person
        ).exclude(file="")
    )


def statement_get_for_person(*, person: Person, code: str) -> Statement:
    """The statement of a request this person opened; anything else is a 404."""
    return _first_or_404(
        Statement.objects.filter(request__code=code, request__person=person, person=person).select_related(
            "request__organization", "person"
        )
    )


def statement_of_request(request: ConsentRequest) -> Statement | None:
    """The request's statement, if the person has started one (callers already hold the request)."""
    return Statement.objects.filter(request=request).select_related("reviewed_by").first()


def statement_get_for_organization(*, organization: Organization, statement_id: int) -> Statement:
    """A statement of one of the organisation's requests (the office page, scoped to its ?org=)."""
    return _first_or_404(
        Statement.objects.filter(pk=statement_id, request__organization=organization).select_related(
            "request__organization", "person", "reviewed_by"
        )
    )


def samples_of_request(request: ConsentRequest) -> list[Sample]:
    return list(Sample.objects.filter(item__request=request).select_related("item").order_by("item__position", "pk"))


def statement_get_for_operator(*, user: User, statement_id: int) -> Statement:
    """A statement of a request made by an organisation the operator belongs to (any role)."""
    return _first_or_404(
        Statement.objects.filter(pk=statement_id, request__organization__memberships__user=user).select_related(
            "request__organization", "person", "reviewed_by"
        )
    )


def sample_get_for_operator(*, user: User, sample_id: int) -> Sample:
    """A sample of a request made by an organisation the operator belongs to (any role), not yet erased."""
    return _first_or_404(
        Sample.objects.filter(pk=sample_id, item__request__organization__memberships__user=user).exclude(file="")
    )


def items_open_for_person(*, person: Person, code: str) -> list[RequestItem]:
    return list(
        RequestItem.objects.filter(
            request__code=code, request__person=person, state=RequestItem.State.PENDING
        ).order_by("position")
    )


def request_get_for_landing(*, code: str) -> ConsentRequest | None:
    """What the SMS link shows before sign-in: the organisation and the items' modalities, nothing more.

    Anyone holding the link sees this, so the template must show no terms, samples, name or full number.
    """
    # After an account deletion the request keeps only a masked number: no one can sign in from its link.
    requests = ConsentRequest.objects.filter(code=code).exclude(person_phone__contains="*")
    return requests.select_related("organization").prefetch_related("items").first()


def outputs_for_consent(*, consent: Consent):
    """The outputs registered under a consent the caller already holds (through consent_get_for_person)."""
    return (
        Output.objects.filter(consent=consent)
        .select_related("organization")
        .defer("thumbnail", "receipt")
        .annotate(thumbnail_size=Length("thumbnail"))
    )


def output_get_for_person(*, person: Person, consent_id: int, receipt_id) -> Output:
    """One output of one of the person's consents; anyone else's (or a missing one) is a 404."""
    return _first_or_404(Output.objects.filter(consent_id=consent_id, consent__person=person, public_id=receipt_id))


def output_thumbnails_shown(*, person: Person) -> bool:
    return OutputDisplay.objects.filter(person=person, show_thumbnails=True).exists()


# ---- the verify hot path ---------------------------------------------------------------------------


@dataclass(frozen=True)
class VerifyCaller:
    """An API key as the verify call needs it, with the presented consent if the key's organisation has it."""

    key_id: int
    secret_hash: str
    scopes: list[str]
    revoked: bool
    touch_due: bool  # last_used_at older than a minute (or never set)
    organization_id: int
    organization_public_id: str
    require_media_binding: bool
    consent: "ConsentState | None"  # the consent asked for, only if it belongs to the key's organisation


@dataclass(frozen=True)
class ConsentState:
    """What token_verify reads of a consent, read live (no model instance on the hot path)."""

    pk: int
    state: str
    modality: str
    operations: list[str]


@functools.cache
def _verify_caller_sql() -> str:
    key, org = ApiKey._meta.db_table, Organization._meta.db_table
    org_settings, consent = OrganizationSettings._meta.db_table, Consent._meta.db_table
    # One statement, by unique prefix and primary key, no ORDER BY. The consent join carries the
    # organisation scope: another organisation's consent id reads as no consent at all.
    # Table names from the models, every value a parameter.
    return (
        "SELECT k.id, k.secret_hash, k.scopes, k.revoked_at IS NOT NULL,"  # noqa: S608
        " (k.last_used_at IS NULL OR k.last_used_at < %s), k.organization_id, o.public_id,"
        " s.require_media_binding, c.id, c.state, c.modality, c.operations"
        f" FROM {key} k JOIN {org} o ON o.id = k.organization_id"
        f" LEFT JOIN {org_settings} s ON s.organization_id = k.organization_id"
        f" LEFT JOIN {consent} c ON c.id = %s AND c.organization_id = k.organization_id"
        " WHERE k.prefix = %s"
    )


def _json(value):
    return json.loads(value) if isinstance(value, str | bytes) else value


def verify_caller_get(*, prefix: str, consent_id: int | None, now: datetime) -> VerifyCaller | None:
    """The key `prefix` and, scoped to its organisation, consent `consent_id` (live state), in one query.

    Nothing is cached: a revoked key and a withdrawn consent are seen by the very next call. None when no
    key has this prefix; the secret, revocation and scopes are the caller's to check.
    """
    touch_before = connection.ops.adapt_datetimefield_value(now - timedelta(minutes=1))
    # An id beyond bigint cannot name a row, and must not reach the database as an out-of-range parameter.
    probe = consent_id if consent_id is not None and 0 < consent_id < 2**63 else None
    with hot_cursor() as cursor:
        cursor.execute(_verify_caller_sql(), [touch_before, probe, prefix])
        row = cursor.fetchone()
    if row is None:
        return None
    key_id, secret_hash, scopes, revoked, touch_due, org_id, public_id, binding, cid, state, modality, ops = row
    consent = None
    if cid is not None:
        consent = ConsentState(pk=cid, state=state, modality=modality, operations=_json(ops))
    return VerifyCaller(
        key_id=key_id,
        secret_hash=secret_hash,
        scopes=_json(scopes),
        revoked=bool(revoked),
        touch_due=bool(touch_due),
        organization_id=org_id,
        organization_public_id=str(uuid.UUID(str(public_id))),
        require_media_binding=bool(binding),
        consent=consent,
    )
