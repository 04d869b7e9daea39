"""Writes to the transparency log: append an event, integrate events into the Merkle tree, sign
checkpoints, purge old event bodies.

An append takes its `seq` from a database sequence and inserts one row: writers never wait on each
other. The integrator (a beat task every 30 s, and on demand before a proof is needed) is the only
writer of the tree; it locks the `AuditTree` row, never an appender's. It takes events in seq order after
the highest one integrated and records the numbers it passed without an event (`AuditGap`): a transaction
that commits late is found there, within LATE_WINDOW, without rescanning recent events.
"""

import base64
import hashlib
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, models, transaction
from django.db.models import Exists, Max, Min, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from audit import keys, merkle, note
from audit.canonical import canonical_json
from audit.models import (
    AuditCheckpoint,
    AuditEvent,
    AuditGap,
    AuditLeaf,
    AuditNode,
    AuditTree,
    leaf_body,
    node_key,
)
from errors import ApplicationError
from hotsql import hot_cursor

GENESIS = "0" * 64
SEQUENCE = "audit_event_seq"
# An event whose transaction commits this long after the integrator passed its seq is still folded in: the
# integrator keeps the gaps it passed this long (`AuditGap`) and looks for events in them on each run.
LATE_WINDOW = timedelta(hours=1)
BATCH = 20_000
GAPS_PER_QUERY = 200


class PurgeRefused(ApplicationError):
    code = "audit_retention_too_short"
    status = 409
    message = _(
        "refusing to purge with a retention of %(days)s days; the minimum is %(minimum)s days "
        "(Cybersecurity Law Art. 21)"
    )


def _describe(obj) -> tuple[str, str, str]:
    if obj is None:
        return "system", "", "system"
    if isinstance(obj, str):
        return "system", "", obj[:200]
    if isinstance(obj, models.Model):
        return obj._meta.label_lower, str(obj.pk), str(obj)[:200]
    kind = getattr(obj, "audit_type", type(obj).__name__.lower())
    return kind, str(getattr(obj, "pk", "")), str(obj)[:200]


def _organization_id(organization, target, data: dict) -> int | None:
    """The organisation an event concerns: given, else the target's own, else data["organization"]."""
    if organization is not None:
        return organization if isinstance(organization, int) else organization.pk
    # Duck-typed so that audit imports nothing of identity or consent.
    if isinstance(target, models.Model) and isinstance(getattr(target, "organization_id", None), int):
        return target.organization_id
    value = data.get("organization")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _next_seq() -> int:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT nextval(%s)", [SEQUENCE])
            return cursor.fetchone()[0]
    # SQLite (development, tests) has no sequences; its single writer lock orders appends anyway. The
    # leaves remember the seqs of purged events, so a number is never handed out twice.
    highest = max(
        AuditEvent.objects.aggregate(m=Max("seq"))["m"] or 0, AuditLeaf.objects.aggregate(m=Max("seq"))["m"] or 0
    )
    return highest + 1


def event_record(*, actor, action: str, target=None, data: dict | None = None, organization=None) -> AuditEvent:
    """Append one event in the caller's transaction (or a new one): it commits if and only if the change does.

    `organization` (an Organization or its id) scopes the event to that organisation's audit trail;
    without it the target's organisation is used when it has one.
    """
    data = data or {}
    # Refuse a float or a non-string key now, not when the integrator hashes it; the text is what is stored.
    data_json = canonical_json(data).decode()
    actor_type, actor_id, actor_label = _describe(actor)
    target_type, target_id, _ = _describe(target) if target is not None else ("", "", "")
    # No savepoint of its own: a failed insert fails the caller's transaction anyway, and a savepoint
    # would cost two more round trips on every state change of the platform.
    event = AuditEvent(
        seq=None,
        time=timezone.now(),
        actor_type=actor_type,
        actor_id=actor_id,
        actor_label=actor_label,
        action=action,
        target_type=target_type,
        target_id=target_id,
        data=data,
        organization_id=_organization_id(organization, target, data),
    )
    if connection.vendor == "postgresql":
        _insert_with_sequence(event, data_json)
    else:
        event.seq = _next_seq()
        event.save(force_insert=True)
    return event


_INSERT_SQL = (
    'INSERT INTO audit_auditevent (seq, "time", actor_type, actor_id, actor_label, "action", target_type, target_id, '
    "data, organization_id) VALUES (nextval('audit_event_seq'), %s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s) "
    "RETURNING seq"
)


def _insert_with_sequence(event: AuditEvent, data_json: str) -> None:
    """One round trip: the row takes its seq from the sequence in the INSERT itself. The SQL is built once and
    the data goes as the canonical text already made, not through the model's field preparation again; the
    values are bound on the server, so the statement is parsed and planned once per connection."""
    values = [
        event.time, event.actor_type, event.actor_id, event.actor_label, event.action, event.target_type,
        event.target_id, data_json, event.organization_id,
    ]  # fmt: skip
    with hot_cursor() as cursor:
        cursor.execute(_INSERT_SQL, values)
        (event.seq,) = cursor.fetchone()
    event._state.adding, event._state.db = False, connection.alias


def _insert_rows(model, columns: list[str], rows: list[tuple]) -> None:
    """Bulk insert without the ORM's per-row compiling: COPY on PostgreSQL, executemany elsewhere."""
    table = model._meta.db_table
    quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({quoted}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            placeholders = ", ".join(["%s"] * len(columns))
            cursor.executemany(f"INSERT INTO {table} ({quoted}) VALUES ({placeholders})", rows)  # noqa: S608


# ---- the tree -----------------------------------------------------------------------------------


def _lock_tree() -> AuditTree:
    try:
        return AuditTree.objects.select_for_update().get(id=1)
    except AuditTree.DoesNotExist:
        # A flushed database (tests) has no tree row; create it without racing another process.
        AuditTree.objects.bulk_create([AuditTree(id=1)], ignore_conflicts=True)
        return AuditTree.objects.select_for_update().get(id=1)


def node_hashes(nodes) -> dict[merkle.Node, bytes]:
    """Stored hashes of the perfect subtrees asked for, by (level, index)."""
    keys_ = {node_key(level, index): (level, index) for level, index in nodes}
    rows = AuditNode.objects.filter(key__in=keys_).values_list("key", "hash")
    found = {keys_[key]: bytes(value) for key, value in rows}
    missing = set(keys_.values()) - set(found)
    if missing:
        raise LookupError(f"the tree has no stored hash for the subtrees {sorted(missing)[:3]}")
    return found


def tree_root(size: int) -> bytes:
    edge = merkle.frontier_nodes(size)
    hashes = node_hashes(edge)
    return merkle.Frontier(size, [hashes[n] for n in edge]).root()


EVENT_COLUMNS = (
    "seq", "time", "actor_type", "actor_id", "actor_label", "action", "target_type", "target_id", "data",
    "organization_id",
)  # fmt: skip


def _late_events(tree: AuditTree, now: datetime) -> list[tuple]:
    """Events committed after the integrator passed their number: looked for only in the recorded gaps."""
    AuditGap.objects.filter(noticed__lt=now - LATE_WINDOW).delete()
    gaps = list(AuditGap.objects.order_by("first").values_list("first", "last"))
    integrated = AuditLeaf.objects.filter(seq=OuterRef("seq"))
    found = []
    for at in range(0, len(gaps), GAPS_PER_QUERY):  # a bounded OR: SQLite caps an expression's depth
        in_gaps = Q()
        for first, last in gaps[at : at + GAPS_PER_QUERY]:
            in_gaps |= Q(seq__range=(first, last))
        found += (
            AuditEvent.objects.filter(in_gaps, seq__lte=tree.last_seq)
            .exclude(Exists(integrated))
            .order_by("seq")
            .values_list(*EVENT_COLUMNS)
        )
    return sorted(found, key=lambda row: row[0])


def _gaps(after: int, seqs: list[int], now: datetime) -> list[AuditGap]:
    """Every run of numbers missing between `after` and the seqs just integrated."""
    gaps, previous = [], after
    for seq in seqs:
        if seq > previous + 1:
            gaps.append(AuditGap(first=previous + 1, last=seq - 1, noticed=now))
        previous = seq
    return gaps


def _integrate_batch(batch: int = BATCH, *, late: bool = False) -> int:
    with transaction.atomic():
        tree = _lock_tree()
        now = timezone.now()
        pending = _late_events(tree, now) if late else []
        pending += (
            AuditEvent.objects.filter(seq__gt=tree.last_seq)
            .order_by("seq")
            .values_list(*EVENT_COLUMNS)[: max(0, batch - len(pending))]
        )
        if not pending:
            return 0
        edge = merkle.frontier_nodes(tree.size)
        stored = node_hashes(edge) if edge else {}
        frontier = merkle.Frontier(tree.size, [stored[n] for n in edge])
        leaves, nodes = [], []
        sha256 = hashlib.sha256
        for row in pending:
            leaves.append((frontier.size, row[0]))
            for (level, index), value in frontier.append(sha256(b"\x00" + leaf_body(*row)).digest()):
                nodes.append((node_key(level, index), value))
        _insert_rows(AuditLeaf, ["index", "seq"], leaves)
        _insert_rows(AuditNode, ["key", "hash"], nodes)
        new = [row[0] for row in pending if row[0] > tree.last_seq]
        if new:
            # Few rows; a gap already recorded (only after the tree was reset by hand) is kept as it was.
            AuditGap.objects.bulk_create(_gaps(tree.last_seq, new, now), ignore_conflicts=True)
        tree.size = frontier.size
        tree.last_seq = max(tree.last_seq, pending[-1][0])
        tree.save(update_fields=["size", "last_seq"])
        return len(pending)


def tree_integrate(*, limit: int | None = None) -> int:
    """Fold every committed event not yet in the tree into it (at most `limit`), in seq order; returns how many.

    Events are taken in seq order after the highest one integrated; an event whose transaction committed
    after the integrator passed its number (a gap) is folded in when it appears, within LATE_WINDOW.
    """
    total = 0
    while True:
        batch = BATCH if limit is None else min(BATCH, limit - total)
        done = _integrate_batch(batch, late=total == 0) if batch > 0 else 0
        total += done
        if done < batch or batch == 0:
            return total


@transaction.atomic
def checkpoint_create() -> AuditCheckpoint | None:
    """Sign the tree at its integrated size, unless the newest checkpoint already does. None while empty."""
    tree = _lock_tree()
    if tree.size == 0:
        return None
    newest = AuditCheckpoint.objects.order_by("-number").first()
    if newest and newest.size == tree.size:
        return newest
    origin = keys.log_origin()
    root = tree_root(tree.size)
    checkpoint = AuditCheckpoint(
        number=newest.number + 1 if newest else 1,
        size=tree.size,
        root_hash=root.hex(),
        note=note.sign(note.Checkpoint(origin, tree.size, root).text(), origin, keys.platform_private_key()),
        prev=checkpoint_link(newest),
        time=timezone.now(),
    )
    checkpoint.chain_signature = keys.sign(canonical_json(checkpoint.chain_fields()))
    checkpoint.save(force_insert=True)
    return checkpoint


def checkpoint_link(checkpoint: AuditCheckpoint | None) -> str:
    """What the next checkpoint carries as `prev`: the SHA-256 of this one's note (or genesis)."""
    return hashlib.sha256(checkpoint.note.encode()).hexdigest() if checkpoint else GENESIS


def log_integrate() -> AuditCheckpoint | None:
    """What beat runs: integrate, then sign a checkpoint if the tree grew."""
    tree_integrate()
    return checkpoint_create()


# ---- proofs -------------------------------------------------------------------------------------


def _b64(values: list[bytes]) -> list[str]:
    return [base64.b64encode(value).decode() for value in values]


def inclusion_proof(index: int, size: int) -> list[bytes]:
    return merkle.proof_hashes(merkle.inclusion_ranges(index, size), node_hashes)


def consistency_proof(first: int, second: int) -> list[bytes]:
    if first == 0 or first == second:
        return []
    return merkle.proof_hashes(merkle.consistency_ranges(first, second), node_hashes)


def event_evidence(*, seq: int) -> dict | None:
    """Everything needed to check offline that event `seq` is in the log: the event's canonical JSON, its
    leaf index, the first signed checkpoint that covers it and the inclusion proof to that checkpoint's
    root, and the log's verifier key. Integrates and signs on demand. None if the event is not visible.
    """
    leaf = AuditLeaf.objects.filter(seq=seq).first()
    if leaf is None:
        tree_integrate()
        leaf = AuditLeaf.objects.filter(seq=seq).first()
        if leaf is None:
            return None
    checkpoint = AuditCheckpoint.objects.filter(size__gt=leaf.index).order_by("number").first() or checkpoint_create()
    event = AuditEvent.objects.filter(seq=seq).first()
    return {
        "log": keys.log_origin(),
        "log_key": keys.log_verifier_key(),
        "leaf_index": leaf.index,
        "event": event.leaf_body().decode() if event else None,
        "checkpoint": checkpoint.note,
        "inclusion_proof": _b64(inclusion_proof(leaf.index, checkpoint.size)),
    }


# ---- retention ----------------------------------------------------------------------------------


@transaction.atomic
def events_purge(*, now: datetime | None = None, retention_days: int | None = None) -> int:
    """Delete the bodies of events older than the retention period. Their leaves and subtree hashes stay,
    so the tree, every checkpoint and every proof still verify; only the events' contents are gone.
    """
    days = settings.AUDIT_RETENTION_DAYS if retention_days is None else retention_days
    if days < settings.AUDIT_MIN_RETENTION_DAYS:
        raise PurgeRefused(days=days, minimum=settings.AUDIT_MIN_RETENTION_DAYS)
    cutoff = (now or timezone.now()) - timedelta(days=days)
    tree_integrate()  # only integrated events are purged: their hash must outlive them
    checkpoint_create()
    # Bodies go up to the first leaf whose event is still within the retention period, so that "absent
    # body" has one meaning for audit_verify: below the horizon recorded in the (hashed) audit.purge event.
    young = AuditEvent.objects.filter(time__gte=cutoff).values("seq")
    first_kept = AuditLeaf.objects.filter(seq__in=young).aggregate(m=Min("index"))["m"]
    through = (first_kept if first_kept is not None else AuditTree.objects.get(id=1).size) - 1
    seqs = AuditLeaf.objects.filter(index__lte=through).values("seq")
    if through < 0 or not AuditEvent.objects.filter(seq__in=seqs).exists():
        return 0
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL audit.allow_purge = 'on'")
        sql, params = AuditEvent.objects.filter(seq__in=seqs).values("seq").query.sql_with_params()
        cursor.execute(f"DELETE FROM {AuditEvent._meta.db_table} WHERE seq IN ({sql})", params)  # noqa: S608
        deleted = cursor.rowcount
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL audit.allow_purge = 'off'")
    event_record(
        actor="retention purge",
        action="audit.purge",
        data={"purged_through_leaf": through, "deleted": deleted, "retention_days": days},
    )
    log_integrate()
    return deleted
