"""Walk the audit chain and the signed checkpoint chain; report the first broken link.

What a rewind looks like: the newest events deleted and the head set back. The chain alone still
links, so the checks that catch it are the checkpoints: their own chain must be gapless and linked,
and the event chain must reach the newest one. Deleting the newest checkpoints as well leaves a
shorter but consistent log; only a checkpoint kept outside the database (`trusted`) catches that.
"""

import base64
import binascii
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

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


class BadCheckpoint(ValueError):
    """The checkpoint an auditor supplied is malformed or not signed by the platform key."""


def _link(signature: str) -> str:
    return hashlib.sha256(signature.encode()).hexdigest()


def trusted_checkpoint_parse(value: dict) -> AuditCheckpoint:
    """Rebuild a checkpoint an auditor kept (`AuditCheckpoint.as_json()`) and check its signature."""
    try:
        checkpoint = AuditCheckpoint(
            cp_seq=int(value["cp_seq"]),
            prev=str(value["prev"]),
            version=int(value.get("v", 1)),
            seq=int(value["seq"]),
            hash=str(value["hash"]),
            time=datetime.fromisoformat(value["time"]),
            reason=str(value["reason"]),
            key_id=str(value.get("key_id", "")),
            signature=str(value["signature"]),
        )
        base64.b64decode(checkpoint.signature, validate=True)
    except KeyError as exc:
        raise BadCheckpoint(f"not a checkpoint: the field {exc.args[0]} is missing") from exc
    except (TypeError, ValueError, binascii.Error) as exc:
        raise BadCheckpoint(f"not a checkpoint: {exc}") from exc
    if checkpoint.version < 2:
        raise BadCheckpoint("only chained (version 2) checkpoints can be kept by an auditor")
    if not keys.verify(canonical_json(checkpoint.signed_fields()), checkpoint.signature):
        raise BadCheckpoint("its signature does not verify with the platform key")
    return checkpoint


def _checkpoints_verify(checkpoints: list[AuditCheckpoint]) -> Result | None:
    previous = None
    for expected_cp, checkpoint in enumerate(checkpoints, start=1):
        where = f"checkpoint {checkpoint.cp_seq} (event seq {checkpoint.seq})"
        if not keys.verify(canonical_json(checkpoint.signed_fields()), checkpoint.signature):
            return Result(False, 0, checkpoint.seq, f"{where}: signature does not verify")
        if checkpoint.cp_seq != expected_cp:
            return Result(False, 0, checkpoint.seq, "checkpoint missing", f"checkpoint {expected_cp}", where)
        if checkpoint.version >= 2:
            expected_prev = _link(previous.signature) if previous else GENESIS_HASH
            if checkpoint.prev != expected_prev:
                return Result(
                    False,
                    0,
                    checkpoint.seq,
                    f"{where}: does not link to the one before",
                    expected_prev,
                    checkpoint.prev,
                )
        elif previous and previous.version >= 2:
            return Result(False, 0, checkpoint.seq, f"{where}: unchained checkpoint after the chained ones")
        previous = checkpoint
    return None


def _trusted_verify(trusted: AuditCheckpoint, checkpoints: list[AuditCheckpoint]) -> Result | None:
    stored = next((c for c in checkpoints if c.cp_seq == trusted.cp_seq), None)
    if stored is None:
        newest = checkpoints[-1].cp_seq if checkpoints else 0
        return Result(
            False, 0, trusted.seq, "the log was cut: the auditor's checkpoint is gone",
            f"checkpoint {trusted.cp_seq}", f"checkpoints up to {newest}",
        )  # fmt: skip
    if stored.signature != trusted.signature:
        return Result(
            False,
            0,
            trusted.seq,
            "the auditor's checkpoint differs from the stored one",
            trusted.signature,
            stored.signature,
        )
    return None


def chain_verify(progress: Callable[[int, int], None] | None = None, trusted: AuditCheckpoint | None = None) -> Result:
    """Verify the checkpoint chain, then every remaining event from the purge anchor (or genesis) to the head.

    `trusted` is a checkpoint an outside auditor kept earlier (already signature-checked); the log
    must still contain it, which detects a rewind that also deleted the newest checkpoints.
    """
    checkpoints = list(AuditCheckpoint.objects.order_by("cp_seq"))
    failure = _checkpoints_verify(checkpoints)
    if failure is None and trusted is not None:
        failure = _trusted_verify(trusted, checkpoints)
    if failure:
        return failure
    anchors = [c for c in checkpoints if c.reason == AuditCheckpoint.Reason.PURGE]
    anchor = max(anchors, key=lambda c: c.seq, default=None)
    expected_prev = anchor.hash if anchor else GENESIS_HASH
    expected_seq = anchor.seq + 1 if anchor else 1
    signed: dict[int, set[str]] = {}
    for checkpoint in checkpoints:
        signed.setdefault(checkpoint.seq, set()).add(checkpoint.hash)
    newest = max(checkpoints, key=lambda c: c.seq, default=None)
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
        if event.hash_version < 2 and event.organization_id != _legacy_organization(event.data):
            # The column is outside a legacy event's hash; it must agree with the hashed data.
            return Result(
                False, checked, event.seq, "organisation does not match the hashed data",
                str(_legacy_organization(event.data)), str(event.organization_id),
            )  # fmt: skip
        if event.seq in signed and signed[event.seq] != {event.hash}:
            return Result(
                False, checked, event.seq, "differs from signed checkpoint", ", ".join(signed[event.seq]), event.hash
            )
        expected_prev, expected_seq = event.hash, expected_seq + 1
        checked += 1
        if progress:
            progress(checked, total)
    last_seq = expected_seq - 1
    if newest and newest.seq > last_seq:
        return Result(
            False, checked, last_seq + 1, "the log was cut: events missing before the newest checkpoint",
            f"events up to seq {newest.seq} (checkpoint {newest.cp_seq})", f"events up to seq {last_seq}",
        )  # fmt: skip
    head = AuditHead.objects.filter(id=1).first()
    if head and head.seq >= expected_seq:
        return Result(False, checked, expected_seq, "events missing at the end", f"seq {head.seq}", "nothing")
    if head and head.seq and (head.seq, head.hash) != (last_seq, expected_prev):
        return Result(
            False, checked, head.seq, "head does not match the last event",
            f"seq {last_seq} {expected_prev}", f"seq {head.seq} {head.hash}",
        )  # fmt: skip
    return Result(True, checked)


def _legacy_organization(data: dict) -> int | None:
    value = data.get("organization") if isinstance(data, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None
