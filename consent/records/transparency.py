"""A decision's place in the transparency log, carried by its record and the person's export.

`decision_evidence` finds the grant or withdrawal event of a consent and asks the log for its inclusion
proof. `evidence_check` verifies such evidence with nothing but the evidence itself and the log's published
key: no database, so an auditor's copy of this function (or clients/python) reaches the same answer.
"""

import base64
import binascii
import json
from dataclasses import dataclass

import audit
from audit import keys, merkle, note
from audit.models import AuditEvent
from consent.models import Artifact, Consent

ACTIONS = {Artifact.Kind.GRANT: "consent.grant", Artifact.Kind.REVOCATION: "consent.revoke"}


def decision_event_seq(consent: Consent, kind: str) -> int | None:
    return (
        AuditEvent.objects.filter(
            action=ACTIONS[kind], target_type=Consent._meta.label_lower, target_id=str(consent.pk)
        )
        .order_by("seq")
        .values_list("seq", flat=True)
        .first()
    )


def decision_evidence(consent: Consent, kind: str) -> dict | None:
    """The event, its leaf index, a signed checkpoint covering it and the inclusion proof; None if no event."""
    seq = decision_event_seq(consent, kind)
    return audit.evidence(seq) if seq is not None else None


@dataclass(frozen=True)
class EvidenceCheck:
    ok: bool
    problem: str = ""
    leaf_index: int | None = None
    tree_size: int | None = None


def evidence_check(evidence, *, consent_id: int, kind: str, verifier_key: str | None = None) -> EvidenceCheck:
    """Verify a record's log evidence offline: the checkpoint is signed by the published log key, the event
    is this consent's decision of this kind, and the inclusion proof leads from its leaf to the signed root.
    """
    try:
        verifier = note.verifier_parse(verifier_key or keys.log_verifier_key())
        checkpoint = note.checkpoint_open(str(evidence["checkpoint"]), verifier)
        body = str(evidence["event"])
        event = json.loads(body)
        index = evidence["leaf_index"]
        proof = [base64.b64decode(h, validate=True) for h in evidence["inclusion_proof"]]
    except note.NoteError as exc:
        return EvidenceCheck(False, f"checkpoint: {exc}")
    except (KeyError, TypeError, ValueError, binascii.Error):
        return EvidenceCheck(False, "malformed")
    if not isinstance(index, int) or isinstance(index, bool) or not isinstance(event, dict):
        return EvidenceCheck(False, "malformed")
    expected = (ACTIONS.get(kind), Consent._meta.label_lower, str(consent_id))
    if (event.get("action"), event.get("target_type"), event.get("target_id")) != expected:
        return EvidenceCheck(False, "another event", index, checkpoint.size)
    if not merkle.verify_inclusion(
        index, checkpoint.size, merkle.leaf_hash(body.encode()), proof, checkpoint.root_hash
    ):
        return EvidenceCheck(False, "inclusion proof", index, checkpoint.size)
    return EvidenceCheck(True, "", index, checkpoint.size)
