"""Recompute the transparency log from its events and check every stored checkpoint against it.

What is checked, in one pass over the leaves in order:
- every event body still present hashes to its stored leaf; a body may be absent only below the purge
  horizon that a (hashed) audit.purge event records;
- leaves are numbered without gaps, and every stored subtree hash a proof could be built from is the
  recomputed one;
- at each checkpoint's size the recomputed root is the signed one; the checkpoints' own chain is
  gapless and linked, each note opens with the log's key, the newest one covers no leaf that is gone;
- every event older than the integrator's late window is in the tree.
A rewind that also deletes the newest checkpoints leaves a shorter but consistent log: only a checkpoint
kept outside (`trusted`, from a witness or a record) catches that, as in Certificate Transparency.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import connection, transaction
from django.utils import timezone

from audit import keys, merkle, note
from audit.canonical import canonical_json
from audit.models import AuditCheckpoint, AuditEvent, AuditLeaf, AuditNode, AuditTree, leaf_body, node_key
from audit.services import LATE_WINDOW, checkpoint_link

CHUNK = 5000


@dataclass
class Result:
    ok: bool
    checked: int
    where: str = ""
    problem: str = ""
    expected: str = ""
    found: str = ""


class BadCheckpoint(ValueError):
    """The checkpoint an auditor supplied is malformed or not signed by the log's key."""


def trusted_checkpoint_parse(text: str) -> note.Checkpoint:
    """Open a signed checkpoint an auditor kept (the note text) with the log's key."""
    try:
        return note.checkpoint_open(text, note.verifier_parse(keys.log_verifier_key()))
    except note.NoteError as exc:
        raise BadCheckpoint(str(exc)) from exc


def _checkpoints_verify(checkpoints: list[AuditCheckpoint]) -> Result | None:
    verifier = note.verifier_parse(keys.log_verifier_key())
    previous = None
    for expected_number, checkpoint in enumerate(checkpoints, start=1):
        where = f"checkpoint {checkpoint.number} (size {checkpoint.size})"
        if not keys.verify(canonical_json(checkpoint.chain_fields()), checkpoint.chain_signature):
            return Result(False, 0, where, "its chain signature does not verify")
        if checkpoint.number != expected_number:
            return Result(False, 0, where, "checkpoint missing", f"checkpoint {expected_number}", where)
        if checkpoint.prev != checkpoint_link(previous):
            link = checkpoint_link(previous)
            return Result(False, 0, where, "does not link to the one before", link, checkpoint.prev)
        try:
            opened = note.checkpoint_open(checkpoint.note, verifier)
        except note.NoteError as exc:
            return Result(False, 0, where, f"its note is refused: {exc}")
        if (opened.size, opened.root_hash.hex()) != (checkpoint.size, checkpoint.root_hash):
            return Result(False, 0, where, "its note signs another tree than its columns say")
        if previous and checkpoint.size <= previous.size:
            return Result(False, 0, where, "the tree shrank", f"more than {previous.size} leaves", str(checkpoint.size))
        previous = checkpoint
    return None


def _trusted_verify(trusted: note.Checkpoint, checkpoints: list[AuditCheckpoint]) -> Result | None:
    stored = next((c for c in checkpoints if c.size == trusted.size), None)
    if stored is None:
        newest = checkpoints[-1].size if checkpoints else 0
        return Result(
            False,
            0,
            f"size {trusted.size}",
            "the auditor's checkpoint is gone: the log was cut or it was dropped",
            f"a checkpoint of size {trusted.size}",
            f"checkpoints up to size {newest}",
        )
    if stored.root_hash != trusted.root_hash.hex():
        return Result(
            False,
            0,
            f"size {trusted.size}",
            "the auditor's checkpoint differs from the stored one",
            trusted.root_hash.hex(),
            stored.root_hash,
        )
    return None


def _purge_horizon() -> int:
    horizon = -1
    for data in AuditEvent.objects.filter(action="audit.purge").values_list("data", flat=True):
        value = data.get("purged_through_leaf") if isinstance(data, dict) else None
        if isinstance(value, int) and not isinstance(value, bool):
            horizon = max(horizon, value)
    return horizon


def _rows():
    """(index, leaf seq, stored leaf hash, event fields or None) in leaf order, streamed."""
    leaf, event, node = AuditLeaf._meta.db_table, AuditEvent._meta.db_table, AuditNode._meta.db_table
    sql = (
        f'SELECT l."index", l.seq, n.hash, e.seq, e.time, e.actor_type, e.actor_id, e.actor_label, e.action, '  # noqa: S608
        f"e.target_type, e.target_id, e.data, e.organization_id "
        f'FROM {leaf} l LEFT JOIN {node} n ON n."key" = l."index" LEFT JOIN {event} e ON e.seq = l.seq '
        f'ORDER BY l."index"'
    )
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql)
        while rows := cursor.fetchmany(CHUNK):
            yield from rows


def _time(value):
    # PostgreSQL hands back an aware datetime; SQLite a naive one (or text) in UTC through a raw cursor.
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _data(value):
    return json.loads(value) if isinstance(value, str) else value


class _InnerNodes:
    """Compares recomputed subtree hashes with the stored ones, a batch at a time."""

    def __init__(self):
        self.pending: dict[int, bytes] = {}

    def add(self, level: int, index: int, value: bytes) -> Result | None:
        self.pending[node_key(level, index)] = value
        return self.flush() if len(self.pending) >= CHUNK else None

    def flush(self) -> Result | None:
        stored = dict(AuditNode.objects.filter(key__in=self.pending).values_list("key", "hash"))
        for key, value in self.pending.items():
            if key not in stored or bytes(stored[key]) != value:
                level, index = key >> 56, key & ((1 << 56) - 1)
                self.pending = {}
                return Result(False, 0, f"subtree {level}/{index}", "a stored subtree hash differs from the events")
        self.pending = {}
        return None


def log_verify(progress: Callable[[int, int], None] | None = None, trusted: note.Checkpoint | None = None) -> Result:
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if outermost and connection.vendor == "postgresql":  # one snapshot for the whole walk
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        return _verify(progress, trusted)


def _verify(progress, trusted) -> Result:
    checkpoints = list(AuditCheckpoint.objects.order_by("number"))
    failure = _checkpoints_verify(checkpoints)
    if failure is None and trusted is not None:
        failure = _trusted_verify(trusted, checkpoints)
    if failure:
        return failure
    roots = {c.size: (c, bytes.fromhex(c.root_hash)) for c in checkpoints}
    horizon = _purge_horizon()
    tree = AuditTree.objects.filter(id=1).first()
    total = tree.size if tree else 0
    frontier, inner, checked = merkle.Frontier(), _InnerNodes(), 0
    for index, leaf_seq, stored, *event in _rows():
        where = f"leaf {index} (event seq {leaf_seq})"
        if index != frontier.size:
            return Result(False, checked, f"leaf {frontier.size}", "leaf missing", f"leaf {frontier.size}", where)
        if stored is None:
            return Result(False, checked, where, "its hash is missing")
        stored = bytes(stored)
        if event[0] is None:
            if index > horizon:
                return Result(False, checked, where, "event deleted", f"event seq {leaf_seq}", "nothing")
            leaf = stored
        else:
            event[1], event[8] = _time(event[1]), _data(event[8])
            leaf = merkle.leaf_hash(leaf_body(*event))
            if leaf != stored:
                return Result(False, checked, where, "content does not match its leaf hash", leaf.hex(), stored.hex())
        for (level, node_index), value in frontier.append(leaf)[1:]:
            if failure := inner.add(level, node_index, value):
                failure.checked = checked
                return failure
        checked += 1
        if frontier.size in roots:
            checkpoint, signed_root = roots[frontier.size]
            if frontier.root() != signed_root:
                return Result(
                    False,
                    checked,
                    f"checkpoint {checkpoint.number} (size {checkpoint.size})",
                    "the recomputed tree differs from the signed checkpoint",
                    signed_root.hex(),
                    frontier.root().hex(),
                )
        if progress:
            progress(checked, total)
    if failure := inner.flush():
        failure.checked = checked
        return failure
    newest = checkpoints[-1] if checkpoints else None
    if newest and newest.size > frontier.size:
        return Result(
            False,
            checked,
            f"checkpoint {newest.number}",
            "the log was cut: leaves missing under the newest checkpoint",
            f"{newest.size} leaves",
            f"{frontier.size} leaves",
        )
    if tree and tree.size != frontier.size:
        size = str(frontier.size)
        return Result(False, checked, "tree", "the tree's size does not match its leaves", str(tree.size), size)
    cutoff = timezone.now() - LATE_WINDOW
    stray = (
        AuditEvent.objects.filter(time__lt=cutoff)
        .exclude(seq__in=AuditLeaf.objects.values("seq"))
        .order_by("seq")
        .values_list("seq", flat=True)
        .first()
    )
    if stray is not None:
        return Result(False, checked, f"event seq {stray}", "an event is not in the tree", "a leaf", "none")
    return Result(True, checked)


# The name callers used when the log was a hash chain.
chain_verify = log_verify
