"""Walk the audit chain and the signed checkpoints; report the first broken link."""

from collections.abc import Callable
from dataclasses import dataclass

from audit import keys
from audit.canonical import canonical_json, sha256_hex
from audit.models import GENESIS_HASH, AuditCheckpoint, AuditEvent, AuditHead


@dataclass
class Result:
    ok: bool
    checked: int
    seq: int | None = None
    problem: str = ""
    expected: str = ""
    found: str = ""


def chain_verify(progress: Callable[[int, int], None] | None = None) -> Result:
    """Verify every remaining event from the purge anchor (or genesis) to the head."""
    for checkpoint in AuditCheckpoint.objects.all():
        if not keys.verify(canonical_json(checkpoint.signed_fields()), checkpoint.signature):
            return Result(False, 0, checkpoint.seq, "checkpoint signature does not verify")
    anchor = AuditCheckpoint.objects.filter(reason=AuditCheckpoint.Reason.PURGE).order_by("-seq").first()
    expected_prev = anchor.hash if anchor else GENESIS_HASH
    expected_seq = anchor.seq + 1 if anchor else 1
    signed = {c.seq: c.hash for c in AuditCheckpoint.objects.filter(seq__gte=expected_seq)}
    total = AuditEvent.objects.count()
    checked = 0
    for event in AuditEvent.objects.order_by("seq").iterator(chunk_size=2000):
        if event.seq != expected_seq:
            return Result(False, checked, expected_seq, "event missing", f"seq {expected_seq}", f"seq {event.seq}")
        if event.prev_hash != expected_prev:
            return Result(False, checked, event.seq, "prev_hash does not link", expected_prev, event.prev_hash)
        recomputed = sha256_hex(event.hashed_fields())
        if recomputed != event.hash:
            return Result(False, checked, event.seq, "content does not match its hash", recomputed, event.hash)
        if event.seq in signed and signed[event.seq] != event.hash:
            return Result(False, checked, event.seq, "differs from signed checkpoint", signed[event.seq], event.hash)
        expected_prev, expected_seq = event.hash, expected_seq + 1
        checked += 1
        if progress:
            progress(checked, total)
    head = AuditHead.objects.filter(id=1).first()
    if head and head.seq >= expected_seq:
        return Result(False, checked, expected_seq, "events missing at the end", f"seq {head.seq}", "nothing")
    if head and head.seq and head.hash != expected_prev:
        return Result(False, checked, head.seq, "head does not match the last event", head.hash, expected_prev)
    return Result(True, checked)
