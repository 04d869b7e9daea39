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

The walk goes a chunk of CHUNK leaves at a time, each chunk a perfect subtree: its leaf hashes, then its
levels built whole, compared with the stored hashes of the chunk's range in one query per chunk; above
the chunks only 2n / CHUNK subtrees remain. On PostgreSQL a second connection in the same exported
snapshot reads the next chunk while this one hashes. Memory stays at one chunk, whatever the log's size.
"""

import bisect
import hashlib
import json
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import connection, transaction
from django.utils import timezone

from audit import keys, merkle, note
from audit.canonical import canonical_json
from audit.models import (
    NODE_LEVEL_SHIFT,
    AuditCheckpoint,
    AuditEvent,
    AuditLeaf,
    AuditNode,
    AuditTree,
    leaf_body,
    node_key,
)
from audit.services import LATE_WINDOW, checkpoint_link


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


CHUNK_LEVEL = 14
CHUNK = 1 << CHUNK_LEVEL  # leaves per chunk: a perfect subtree, so a chunk's inner nodes are its own


def _leaf_rows():
    """(index, seq, event fields or Nones) in leaf order, streamed from a server-side cursor, a chunk at a time."""
    leaf, event = AuditLeaf._meta.db_table, AuditEvent._meta.db_table
    sql = (
        f'SELECT l."index", l.seq, e.seq, e.time, e.actor_type, e.actor_id, e.actor_label, e.action, '  # noqa: S608
        f"e.target_type, e.target_id, e.data, e.organization_id "
        f'FROM {leaf} l LEFT JOIN {event} e ON e.seq = l.seq ORDER BY l."index"'
    )
    convert = connection.vendor != "postgresql"
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql)
        while rows := cursor.fetchmany(CHUNK):
            while len(rows) < CHUNK and (more := cursor.fetchmany(CHUNK - len(rows))):
                rows += more  # every chunk but the last is whole, so chunks stay aligned subtrees
            if convert:
                rows = [(*row[:3], _time(row[3]), *row[4:]) if row[2] is not None else row for row in rows]
            yield rows


def _chunks():
    """(leaf rows, stored subtree hashes over them) for each chunk, in leaf order."""
    start = 0
    for rows in _leaf_rows():
        yield rows, _stored_nodes(start, len(rows), range(CHUNK_LEVEL + 1))
        start += len(rows)


def _read_ahead(snapshot: str):
    """`_chunks()` read by a thread on a connection of its own, in the verifier's snapshot (PostgreSQL's
    exported snapshots, as pg_dump's parallel workers use): the database reads the next chunk while this
    thread hashes the current one."""
    found: queue.Queue = queue.Queue(maxsize=2)
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                found.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def read():
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                cursor.execute("SET TRANSACTION SNAPSHOT %s", [snapshot])
                for item in _chunks():
                    if not put(item):
                        return
            put(None)
        except Exception as exc:  # handed to the verifier, which raises it
            put(exc)
        finally:
            connection.close()

    reader = threading.Thread(target=read, name="audit-verify-reader", daemon=True)
    reader.start()
    try:
        while (item := found.get()) is not None:
            if isinstance(item, Exception):
                raise item
            yield item
    finally:
        stop.set()
        reader.join()


def _stored_nodes(start: int, count: int, levels: range) -> dict[int, list[tuple[int, bytes]]]:
    """The stored (key, hash) of the perfect subtrees at `levels` over leaves [start, start + count), by level."""
    ranges, params = [], []
    for level in levels:
        first, end = start >> level, (start + count) >> level
        if end > first:
            ranges.append('("key" >= %s AND "key" < %s)')
            params += [node_key(level, first), node_key(level, end)]
    found = {level: [] for level in levels}
    if not ranges:
        return found
    sql = f'SELECT "key", hash FROM {AuditNode._meta.db_table} WHERE {" OR ".join(ranges)} ORDER BY "key"'  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for key, value in cursor.fetchall():
            found[key >> NODE_LEVEL_SHIFT].append((key, value))
    return found


def _first_difference(level: int, first: int, computed: list[bytes], stored: list[tuple[int, bytes]]) -> int:
    """The index of the first subtree at `level` whose stored hash is missing or not the computed one."""
    by_key = {key: bytes(value) for key, value in stored}
    for offset, value in enumerate(computed):
        if by_key.get(node_key(level, first + offset)) != value:
            return first + offset
    return first + len(computed)  # a stored hash beyond the computed ones


def _time(value):
    # PostgreSQL hands back an aware datetime; SQLite a naive one (or text) in UTC through a raw cursor.
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class _Tree:
    """The tree recomputed a chunk at a time: each chunk's levels in full (while it is checked), and above
    the chunks every perfect subtree over whole chunks, which are few (2n / CHUNK)."""

    def __init__(self):
        self.size = 0
        self.chunk_start = 0
        self.levels: list[list[bytes]] = []  # levels[l][i]: subtree (l, chunk_start >> l + i)
        self.upper: list[list[bytes]] = []  # upper[k][i]: subtree (CHUNK_LEVEL + k, i)
        self.completed_upper: list[tuple[int, int, bytes]] = []

    def add_chunk(self, leaves: list[bytes]) -> None:
        self.chunk_start, self.size = self.size, self.size + len(leaves)
        levels, level = [leaves], leaves
        sha256 = hashlib.sha256
        while len(level) > 1:
            level = [
                sha256(b"\x01" + left + right).digest() for left, right in zip(level[::2], level[1::2], strict=False)
            ]
            levels.append(level)
        self.levels = levels
        if len(leaves) == CHUNK:
            self._add_upper(0, levels[CHUNK_LEVEL][0])

    def _add_upper(self, k: int, value: bytes) -> None:
        if k == len(self.upper):
            self.upper.append([])
        self.upper[k].append(value)
        if k:
            self.completed_upper.append((CHUNK_LEVEL + k, len(self.upper[k]) - 1, value))
        if len(self.upper[k]) % 2 == 0:
            self._add_upper(k + 1, merkle.node_hash(self.upper[k][-2], value))

    def node(self, level: int, index: int) -> bytes:
        if level < CHUNK_LEVEL:
            return self.levels[level][index - (self.chunk_start >> level)]
        return self.upper[level - CHUNK_LEVEL][index]

    def root(self, size: int) -> bytes:
        """The root of the tree's first `size` leaves, for `size` within the chunk just added."""
        edge = [self.node(level, index) for level, index in merkle.frontier_nodes(size)]
        return merkle.Frontier(size, edge).root()


def _chunk_verify(recomputed: _Tree, rows, stored, horizon: int, sizes: list[int], by_size) -> Result | None:
    """Check one chunk of leaves: numbering, event bodies against leaf hashes, the signed roots of the
    checkpoints that end in it, then every stored subtree hash inside it. Failures name the first leaf."""
    start = recomputed.size
    stored_leaves = dict(stored[0])
    leaves = []
    sha256 = hashlib.sha256
    loads = json.loads
    for position, (index, leaf_seq, seq, *event) in enumerate(rows, start=start):
        if index != position:
            where = f"leaf {index} (event seq {leaf_seq})"
            return Result(False, position, f"leaf {position}", "leaf missing", f"leaf {position}", where)
        value = stored_leaves.get(index)
        if value is None:
            return Result(False, position, f"leaf {index} (event seq {leaf_seq})", "its hash is missing")
        if seq is None:
            if index > horizon:
                where = f"leaf {index} (event seq {leaf_seq})"
                return Result(False, position, where, "event deleted", f"event seq {leaf_seq}", "nothing")
            leaves.append(bytes(value))
        else:
            # A raw cursor hands JSON columns back as text (Django parses them only for models).
            data = event[7]
            event[7] = loads(data) if type(data) is str else data
            leaves.append(sha256(b"\x00" + leaf_body(seq, *event)).digest())
    stored_level = [bytes(value) for _key, value in stored[0]]
    if stored_level != leaves:
        at = next(i for i, (a, b) in enumerate(zip(leaves, stored_level, strict=True)) if a != b)
        where = f"leaf {rows[at][0]} (event seq {rows[at][1]})"
        problem = "content does not match its leaf hash"
        return Result(False, start + at, where, problem, leaves[at].hex(), stored_level[at].hex())
    recomputed.add_chunk(leaves)
    for size in sizes[bisect.bisect_right(sizes, start) : bisect.bisect_right(sizes, recomputed.size)]:
        checkpoint, root = by_size[size], recomputed.root(size)
        if root.hex() != checkpoint.root_hash:
            where = f"checkpoint {checkpoint.number} (size {checkpoint.size})"
            problem = "the recomputed tree differs from the signed checkpoint"
            return Result(False, size, where, problem, checkpoint.root_hash, root.hex())
    for level in range(1, len(recomputed.levels)):
        if [bytes(value) for _key, value in stored[level]] != recomputed.levels[level]:
            index = _first_difference(level, start >> level, recomputed.levels[level], stored[level])
            return Result(False, start, f"subtree {level}/{index}", "a stored subtree hash differs from the events")
    return None


def _upper_verify(recomputed: _Tree) -> Result | None:
    """The subtrees over whole chunks (a few per million leaves), compared with the stored ones at the end."""
    computed = {node_key(level, index): value for level, index, value in recomputed.completed_upper}
    stored = dict(AuditNode.objects.filter(key__in=computed).values_list("key", "hash"))
    for key, value in sorted(computed.items()):
        if key not in stored or bytes(stored[key]) != value:
            level, index = key >> NODE_LEVEL_SHIFT, key & ((1 << NODE_LEVEL_SHIFT) - 1)
            where = f"subtree {level}/{index}"
            return Result(False, recomputed.size, where, "a stored subtree hash differs from the events")
    return None


def log_verify(progress: Callable[[int, int], None] | None = None, trusted: note.Checkpoint | None = None) -> Result:
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        chunks = None
        if outermost and connection.vendor == "postgresql":  # one snapshot for the whole walk
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                cursor.execute("SELECT pg_export_snapshot()")
                chunks = _read_ahead(cursor.fetchone()[0])
        # Inside a caller's transaction another connection could not see its writes: read in this thread.
        try:
            return _verify(progress, trusted, chunks or _chunks())
        finally:
            if chunks is not None:
                chunks.close()  # stops the reader at once when a failure ends the walk early


def _verify(progress, trusted, chunks) -> Result:
    checkpoints = list(AuditCheckpoint.objects.order_by("number"))
    failure = _checkpoints_verify(checkpoints)
    if failure is None and trusted is not None:
        failure = _trusted_verify(trusted, checkpoints)
    if failure:
        return failure
    sizes = sorted(c.size for c in checkpoints)
    by_size = {c.size: c for c in checkpoints}
    horizon = _purge_horizon()
    tree = AuditTree.objects.filter(id=1).first()
    total = tree.size if tree else 0
    recomputed = _Tree()
    for rows, stored in chunks:
        if failure := _chunk_verify(recomputed, rows, stored, horizon, sizes, by_size):
            return failure
        if progress:
            progress(recomputed.size, total)
    if failure := _upper_verify(recomputed):
        return failure
    checked = recomputed.size
    newest = checkpoints[-1] if checkpoints else None
    if newest and newest.size > checked:
        return Result(
            False,
            checked,
            f"checkpoint {newest.number}",
            "the log was cut: leaves missing under the newest checkpoint",
            f"{newest.size} leaves",
            f"{checked} leaves",
        )
    if tree and tree.size != checked:
        size = str(checked)
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
