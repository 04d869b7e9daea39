"""A person's copy of their data (PIPL Art. 45) and deletion of their account (Art. 47)."""

import io
import json
import zipfile

from django.db import transaction
from django.utils import timezone

import audit
from consent.models import Artifact, Consent, ConsentRequest, Output, RequestItem, Sample, Statement
from consent.records.transparency import decision_evidence
from consent.selectors import requests_addressed_to_person
from consent.services.decisions import consent_revoke, item_deny
from consent.services.retention import item_samples_erase
from consent.services.statements import statement_erase, statement_recording
from identity.crypto import mask_phone
from identity.models import Person
from identity.services import person_erase
from identity.validators import resident_id_birth_date

__all__ = ["person_delete", "person_export"]


def _export_data(person: Person) -> dict:
    consents = (
        Consent.objects.filter(person=person)
        .select_related("organization")
        .prefetch_related("presentations__organization", "artifacts", "outputs__organization")
    )
    requests = (
        requests_addressed_to_person(person=person)
        .select_related("organization")
        .prefetch_related("items", "notifications")
    )
    id_number = person.id_number
    return {
        "exported_at": timezone.now().isoformat(),
        "person": {
            "phone": person.phone,
            "legal_name": person.legal_name,
            "id_number": id_number,
            "birth_date": resident_id_birth_date(id_number).isoformat() if id_number else None,
            "verified_at": person.verified_at.isoformat() if person.verified_at else None,
            "identity_checks": [c.as_evidence() | {"subject": c.subject} for c in person.checks.all()],
            "guardian": (
                {"legal_name_masked": person.guardian.legal_name_masked, "relationship": person.guardian.relationship}
                if hasattr(person, "guardian")
                else None
            ),
        },
        "requests": [
            {
                "id": r.pk,
                "organization": r.organization.name,
                "state": r.state,
                "created_at": r.created_at.isoformat(),
                "items": [
                    {
                        "modality": i.modality,
                        "state": i.state,
                        # A "no" is the person's decision as much as a "yes": when, and the reason they gave.
                        "decided_at": i.decided_at.isoformat() if i.decided_at else None,
                        "deny_reason": i.deny_reason,
                        "terms": json.loads(i.terms_json),
                    }
                    for i in r.items.all()
                ],
                # What we told them about it, and when: the request itself, reminders, a consent's end.
                "notifications": [
                    {
                        "reason": n.reason,
                        "consent": n.consent_id,
                        "state": n.state,
                        "created_at": n.created_at.isoformat(),
                        "sent_at": n.sent_at.isoformat() if n.sent_at else None,
                    }
                    for n in sorted(r.notifications.all(), key=lambda n: (n.created_at, n.pk))
                ],
            }
            for r in requests
        ],
        "consents": [
            {
                "id": c.pk,
                "organization": c.organization.name,
                "state": c.state,
                "terms": json.loads(c.terms_json),
                "terms_sha256": c.terms_sha256,
                "granted_at": c.granted_at.isoformat(),
                "revoked_at": c.revoked_at.isoformat() if c.revoked_at else None,
                "uses": [
                    {
                        "time": p.created_at.isoformat(),
                        "organization": p.organization.name,
                        "modality": p.modality,
                        "operation": p.operation,
                        "result": p.result,
                        "reason": p.reason,
                    }
                    for p in c.presentations.all()
                ],
                "records": [f"records/consent-{c.pk}-{a.kind}.pdf" for a in c.artifacts.all()],
                # Proof that each decision is in the public audit log, checkable with the log's key alone.
                "transparency_log": {
                    kind: decision_evidence(c, kind)
                    for kind in (Artifact.Kind.GRANT, Artifact.Kind.REVOCATION)
                    if kind == Artifact.Kind.GRANT or c.revoked_at
                },
                # What services registered as made under it, with the signed receipts (checkable from the JWKS).
                "outputs": [
                    {
                        "receipt_id": str(o.public_id),
                        "registered_at": o.created_at.isoformat(),
                        "organization": o.organization.name,
                        "media_type": o.media_type,
                        "sha256": o.sha256,
                        "consent_withdrawn_at": o.consent_withdrawn_at.isoformat() if o.consent_withdrawn_at else None,
                        "receipt": o.receipt,
                    }
                    for o in c.outputs.all()
                ],
            }
            for c in consents
        ],
        "blocked_organizations": [b.organization.name for b in person.blocks.select_related("organization")],
        "statements": [
            {
                "request_id": st.request_id,
                "organization": st.request.organization.name,
                "state": st.state,
                "number": st.number,
                "recorded_at": st.recorded_at.isoformat() if st.recorded_at else None,
                "sha256": st.sha256,
                "check": st.result,
                "review_reason": st.review_reason,
                "recording": f"statements/request-{st.request_id}" if st.file else None,
            }
            for st in Statement.objects.filter(person=person).select_related("request__organization")
        ],
    }


def person_export(*, person: Person) -> bytes:
    """A zip with data.json (everything we hold about the person) and their signed PDF records."""
    data = _export_data(person)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("data.json", json.dumps(data, ensure_ascii=False, indent=2))
        for consent in Consent.objects.filter(person=person).prefetch_related("artifacts"):
            for artifact in consent.artifacts.all():
                with artifact.file.open("rb") as handle:
                    archive.writestr(f"records/consent-{consent.pk}-{artifact.kind}.pdf", handle.read())
        for statement in Statement.objects.filter(person=person).exclude(file=""):
            archive.writestr(f"statements/request-{statement.request_id}", statement_recording(statement))
    audit.record(person, "person.export", person, {})
    return buffer.getvalue()


def person_delete(*, person: Person) -> None:
    """Delete the account: withdraw every active consent, refuse open items, delete the reference samples,
    erase the identity data and mask the phone on every request. Decided consents (masked name and ID, sample
    hashes, terms), their signed records and the audit trail are kept as proof (Provisions Art. 10)."""
    with transaction.atomic():
        phone = person.phone
        # Unopened requests to this number are theirs too: claim them so they are refused below, and so that
        # whoever holds the number next (numbers are recycled) never sees them.
        claimed = ConsentRequest.objects.filter(person_phone=phone, person__isnull=True).update(person=person)
        for consent_id in Consent.objects.filter(person=person, state=Consent.State.ACTIVE).values_list(
            "pk", flat=True
        ):
            consent_revoke(person=person, consent_id=consent_id, reason="account deleted")
        open_items = RequestItem.objects.filter(
            request__person=person,
            state=RequestItem.State.PENDING,
            request__state=ConsentRequest.State.PENDING,
            request__expires_at__gt=timezone.now(),  # the expiry task closes the rest; deny refuses them
        )
        for item_id in open_items.values_list("pk", flat=True):
            item_deny(person=person, item_id=item_id, reason="account deleted")
        for item_id in (
            RequestItem.objects.filter(
                request__person=person, samples__in=Sample.objects.filter(erased_at__isnull=True).exclude(file="")
            )
            .distinct()
            .values_list("pk", flat=True)
        ):
            item_samples_erase(item_id=item_id, actor=person, reason="account deleted")
        # Thumbnails services sent of the outputs may show the face too: they go as well (the receipts stay).
        Output.objects.filter(consent__person=person).exclude(thumbnail=b"").update(thumbnail=b"")
        # Recorded statements are the person's face and voice too (their hashes stay, as the samples' do).
        for statement_id in Statement.objects.filter(person=person).exclude(file="").values_list("pk", flat=True):
            statement_erase(statement_id=statement_id, actor=person, reason="account deleted")
        masked = ConsentRequest.objects.filter(person=person).update(person_phone=mask_phone(phone), person_email="")
        audit.record(person, "person.requests_detached", person, {"claimed": claimed, "masked": masked})
        person_erase(person=person)
