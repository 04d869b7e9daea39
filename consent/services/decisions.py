"""The person's side of Art. 14: open a request, decide each item separately, revoke, block; expiry."""

from datetime import datetime, time

from django.db import transaction
from django.utils import timezone

import audit
from consent.errors import ConsentNotActive, NotForThisPerson, NotPending, RequestExpired, StatementRequired
from consent.models import Block, Consent, ConsentRequest, Notification, RequestItem, Statement
from consent.services.artifacts import artifact_queue
from consent.services.consent_notices import consent_notice_queue
from consent.services.outputs import outputs_mark_withdrawn
from consent.services.statements import statement_evidence
from consent.services.webhooks import webhook_event_add
from consent.tokens import consent_token_invalidate, consent_token_issue
from identity import services as identity_services
from identity.models import Organization, Person

__all__ = [
    "consent_grant",
    "consent_revoke",
    "consents_expire",
    "item_deny",
    "item_grant",
    "item_grant_code_send",
    "organization_block",
    "organization_unblock",
    "request_open",
]


def _grant_binding(item: RequestItem) -> str:
    return f"grant:{item.terms_sha256}"


def _evidence(person: Person) -> dict:
    evidence = {"person": person.verification.as_evidence() if person.verification else None}
    guardian = getattr(person, "guardian", None)
    if guardian is not None:
        evidence["guardian"] = {
            **guardian.verification.as_evidence(),
            "relationship": guardian.relationship,
            "id_number_masked": guardian.id_number_masked,
        }
    return evidence


def request_open(*, person: Person, code: str) -> ConsentRequest:
    """The signed-in person opens the link; only the phone the request was sent to may open it."""
    request, refused = _request_open(person=person, code=code)
    if refused:
        # Raised after the refusal's audit event committed: raising inside would roll it back.
        raise NotForThisPerson()
    return request


@transaction.atomic
def _request_open(*, person: Person, code: str) -> tuple[ConsentRequest, bool]:
    request = ConsentRequest.objects.select_for_update(of=("self",)).select_related("organization").get(code=code)
    # The phone alone is not enough: a number can be recycled, and a request once opened belongs to that person.
    if request.person_phone != person.phone or request.person_id not in (None, person.pk):
        audit.record(person, "request.open_refused", request, {"organization": request.organization_id})
        return request, True
    if request.person_id is None:
        request.person = person
        request.save(update_fields=["person"])
        audit.record(person, "request.open", request, {"organization": request.organization_id})
    return request, False


def _lock_pending_item(*, person: Person, item_id: int) -> RequestItem:
    # Lock order is request, then item, as in expiry and cancellation: the opposite order deadlocks.
    # The request is found through the item and locked in one statement; the item is then read locked.
    try:
        request = (
            ConsentRequest.objects.select_for_update(of=("self",))
            .select_related("organization")
            .get(items=item_id, person=person)
        )
    except ConsentRequest.DoesNotExist:
        raise RequestItem.DoesNotExist() from None  # another person's item is as missing as a missing one
    item = RequestItem.objects.select_for_update().get(pk=item_id)
    item.request = request
    if item.state != RequestItem.State.PENDING:
        raise NotPending(state=item.get_state_display())
    if request.state == ConsentRequest.State.EXPIRED or request.expires_at <= timezone.now():
        raise RequestExpired()
    if request.state != ConsentRequest.State.PENDING:
        raise NotPending(state=request.get_state_display())
    return item


def _statement_for_grant(request: ConsentRequest) -> Statement | None:
    """The request's statement if it needs one; StatementRequired unless it passed the check or was approved."""
    if not request.statement_required:
        return None
    statement = Statement.objects.filter(request=request).first()
    if statement is None or not statement.lets_grant:
        raise StatementRequired()
    return statement


def _close_request_if_decided(request: ConsentRequest) -> None:
    if not request.items.filter(state=RequestItem.State.PENDING).exists():
        request.state = ConsentRequest.State.COMPLETED
        request.closed_at = timezone.now()
        request.save(update_fields=["state", "closed_at"])


def item_grant_code_send(*, person: Person, item_id: int, ip: str | None, subject: str = "") -> RequestItem:
    """Send a fresh SMS code bound to exactly this item's terms (its text carries their short digest).

    `subject` (organisation and item, in words) lets the person see in the SMS itself what the code is for.
    """
    with transaction.atomic():
        item = _lock_pending_item(person=person, item_id=item_id)
        _statement_for_grant(item.request)
    identity_services.sms_code_send(person=person, ip=ip, bound_to=_grant_binding(item), subject=subject)
    return item


def item_grant(*, person: Person, item_id: int, code: str) -> Consent:
    """Grant one item with the code bound to its terms. Creates a separately revocable Consent."""
    item = RequestItem.objects.get(pk=item_id, request__person=person)
    identity_services.sms_code_verify(person=person, code=code, bound_to=_grant_binding(item))
    return consent_grant(actor=person, item_id=item_id)


@transaction.atomic
def consent_grant(*, actor: Person, item_id: int) -> Consent:
    """Record the grant of one pending item of `actor`'s request: Consent, token, audit, record, webhook.

    It checks no SMS code: the person's signature is `item_grant`, which verifies the code bound to the
    item's terms and then calls this. Call it directly only where that signature was given otherwise
    (demo data, tests). An item of another person raises RequestItem.DoesNotExist, like a missing one.
    """
    item = _lock_pending_item(person=actor, item_id=item_id)
    statement = _statement_for_grant(item.request)
    person = Person.objects.select_related("verification", "guardian").get(pk=actor.pk)
    evidence = _evidence(person)
    if statement is not None:
        evidence["statement"] = statement_evidence(statement)
    now = timezone.now()
    valid_until = timezone.make_aware(datetime.combine(item.valid_until, time.max.replace(microsecond=0)))
    consent = Consent.objects.create(
        item=item,
        organization=item.request.organization,
        person=person,
        guardian=getattr(person, "guardian", None),
        modality=item.modality,
        operations=item.operations,
        terms_json=item.terms_json,
        terms_sha256=item.terms_sha256,
        code_digest=item.digest,
        evidence=evidence,
        granted_at=now,
        valid_until=valid_until,
    )
    item.state = RequestItem.State.GRANTED
    item.decided_at = now
    item.save(update_fields=["state", "decided_at"])
    _close_request_if_decided(item.request)
    audit.record(
        person,
        "consent.grant",
        consent,
        {"organization": consent.organization_id, "item": item.pk, "terms_sha256": item.terms_sha256},
    )
    token = consent_token_issue(consent=consent)
    artifact_queue(consent=consent, kind="grant")
    webhook_event_add(
        organization=consent.organization,
        type="consent.granted",
        payload={
            "consent_id": consent.pk,
            "request_id": item.request_id,
            "item": item.position,
            "token": token.value if token else None,
        },
    )
    return consent


@transaction.atomic
def item_deny(*, person: Person, item_id: int, reason: str = "") -> RequestItem:
    """Refuse one item. No code is needed; the refusal is recorded and starts the cool-down."""
    item = _lock_pending_item(person=person, item_id=item_id)
    item.state = RequestItem.State.DENIED
    item.decided_at = timezone.now()
    item.deny_reason = reason.strip()[:500]
    item.save(update_fields=["state", "decided_at", "deny_reason"])
    _close_request_if_decided(item.request)
    audit.record(person, "item.deny", item, {"organization": item.request.organization_id, "reason": item.deny_reason})
    webhook_event_add(
        organization=item.request.organization,
        type="consent.denied",
        payload={"request_id": item.request_id, "item": item.position, "modality": item.modality},
    )
    return item


@transaction.atomic
def consent_revoke(*, person: Person, consent_id: int, reason: str = "") -> Consent:
    """Withdraw a consent (PIPL Art. 15). Effective for online verification on commit."""
    consent = Consent.objects.select_for_update().get(pk=consent_id, person=person)
    if consent.state != Consent.State.ACTIVE:
        raise ConsentNotActive(state=consent.get_state_display())
    consent.state = Consent.State.REVOKED
    consent.revoked_at = timezone.now()
    consent.revoke_reason = reason.strip()[:500]
    consent.save(update_fields=["state", "revoked_at", "revoke_reason"])
    consent_token_invalidate(consent=consent)
    artifact_queue(consent=consent, kind="revocation")
    audit.record(
        person, "consent.revoke", consent, {"organization": consent.organization_id, "reason": consent.revoke_reason}
    )
    webhook_event_add(organization=consent.organization, type="consent.revoked", payload={"consent_id": consent.pk})
    outputs_mark_withdrawn(consent=consent, now=consent.revoked_at)
    return consent


@transaction.atomic
def organization_block(*, person: Person, organization_id: int) -> Block:
    """Refuse all further requests from an organisation that has asked this person something.

    An organisation that never asked gets the same Organization.DoesNotExist as an unknown id: a block
    on it would tell it, at its next request, that this phone belongs to someone here, and the id alone
    must not confirm that an organisation exists.
    """
    asked = ConsentRequest.objects.filter(organization_id=organization_id, person_phone=person.phone).exists()
    if not asked:
        raise Organization.DoesNotExist()
    organization = Organization.objects.get(pk=organization_id)
    block, created = Block.objects.get_or_create(person=person, organization=organization)
    if created:
        audit.record(person, "organization.block", organization, {"organization": organization.pk})
    return block


@transaction.atomic
def organization_unblock(*, person: Person, organization_id: int) -> None:
    deleted, _ = Block.objects.filter(person=person, organization_id=organization_id).delete()
    if deleted:
        audit.record(person, "organization.unblock", None, {"organization": organization_id})


def consents_expire(*, now: datetime | None = None) -> tuple[int, int]:
    """Expire consents past their validity and pending requests past their expiry. Idempotent.

    The person of each expired consent is told (consent_notice_queue), once per consent.
    """
    now = now or timezone.now()
    consents = requests = 0
    # In id order, one short transaction each: a sweep cut off half-way leaves a prefix done, and the next
    # run (beat, or the same task redelivered) carries on from there without touching what is done.
    due = Consent.objects.filter(state=Consent.State.ACTIVE, valid_until__lt=now).order_by("pk")
    for consent_id in due.values_list("pk", flat=True):
        with transaction.atomic():
            consent = Consent.objects.select_for_update().get(pk=consent_id)
            if consent.state != Consent.State.ACTIVE or consent.valid_until >= now:
                continue  # revoked or changed meanwhile
            consent.state = Consent.State.EXPIRED
            consent.expired_at = now
            consent.save(update_fields=["state", "expired_at"])
            consent_token_invalidate(consent=consent)
            audit.record("expiry", "consent.expire", consent, {"organization": consent.organization_id})
            webhook_event_add(
                organization=consent.organization, type="consent.expired", payload={"consent_id": consent.pk}
            )
            # In the same transaction: a sweep killed after this commit still leaves the notice queued.
            consent_notice_queue(consent=consent, reason=Notification.Reason.EXPIRED)
            consents += 1
    pending = ConsentRequest.objects.filter(state=ConsentRequest.State.PENDING, expires_at__lte=now)
    for request_id in pending.order_by("pk").values_list("pk", flat=True):
        with transaction.atomic():
            request = ConsentRequest.objects.select_for_update().get(pk=request_id)
            if request.state != ConsentRequest.State.PENDING or request.expires_at > now:
                continue
            request.state = ConsentRequest.State.EXPIRED
            request.closed_at = now
            request.save(update_fields=["state", "closed_at"])
            open_items = RequestItem.objects.select_for_update().filter(
                request=request, state=RequestItem.State.PENDING
            )
            expired_items = open_items.update(state=RequestItem.State.EXPIRED, decided_at=now)
            audit.record(
                "expiry", "request.expire", request, {"organization": request.organization_id, "items": expired_items}
            )
            webhook_event_add(
                organization=request.organization, type="request.expired", payload={"request_id": request.pk}
            )
            requests += 1
    return consents, requests
