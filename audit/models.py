import hashlib

from django.db import models

from audit.canonical import canonical_json_checked, encode_string, encode_value

_string, _value = encode_string, encode_value

# A leaf (level 0) or inner node is stored under one integer key: the level in the top byte.
NODE_LEVEL_SHIFT = 56


class AppendOnlyError(Exception):
    pass


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("audit events are append-only; they cannot be updated")

    def delete(self):
        raise AppendOnlyError("audit events are append-only; only the retention purge removes them")


class AuditEvent(models.Model):
    """One event. `seq` comes from a database sequence in the writer's transaction (no lock); the
    integrator later gives it a leaf in the Merkle tree (`AuditLeaf`), in the order it finds them. `seq` is
    the primary key: a second id would cost every append another index and another sequence."""

    seq = models.BigIntegerField(primary_key=True)
    time = models.DateTimeField(db_index=True)
    actor_type = models.CharField(max_length=64)
    actor_id = models.CharField(max_length=64, blank=True)
    actor_label = models.CharField(max_length=200, blank=True)
    action = models.CharField(max_length=64)
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    data = models.JSONField(default=dict)
    # The organisation the event concerns: a plain integer, not a foreign key, so that audit imports
    # nothing of identity and no deletion elsewhere can cascade into the log.
    organization_id = models.BigIntegerField(null=True, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["seq"]
        # Every index is paid on every append: each one here serves a query. An organisation's trail newest
        # first (the office); an action and its prefix (`action__startswith`, and equality, both served by
        # the pattern index on PostgreSQL); a target's history.
        indexes = [
            models.Index(fields=["target_type", "target_id"], name="audit_target_idx"),
            models.Index(fields=["organization_id", "seq"], name="audit_org_seq_idx"),
            models.Index(fields=["action"], name="audit_action_idx", opclasses=["varchar_pattern_ops"]),
        ]

    def __str__(self):
        return f"#{self.seq} {self.action}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError("audit events are append-only; an existing event cannot be saved")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("audit events are append-only; only the retention purge removes them")

    def leaf_body(self) -> bytes:
        """What the Merkle leaf hashes (`SHA-256(0x00 || leaf_body)`): the canonical JSON of the event."""
        return leaf_body(
            self.seq, self.time, self.actor_type, self.actor_id, self.actor_label, self.action,
            self.target_type, self.target_id, self.data, self.organization_id,
        )  # fmt: skip


def leaf_body(seq, time, actor_type, actor_id, actor_label, action, target_type, target_id, data, organization_id):
    """The canonical JSON (sorted keys, no whitespace, UTF-8) of an event: what its leaf commits to.

    Written out field by field in sorted key order rather than through a dict and a sorting encoder: the
    bytes are the same (tests compare both on random events), in half the time, and the integrator and
    `audit_verify` build one per event. Any value outside the expected types takes the general path.
    """
    if (
        type(seq) is int
        and (organization_id is None or type(organization_id) is int)
        and type(actor_type) is type(actor_id) is type(actor_label) is type(action) is str
        and type(target_type) is type(target_id) is str
    ):
        return (
            f'{{"action":{_string(action)},"actor_id":{_string(actor_id)},"actor_label":{_string(actor_label)},'
            f'"actor_type":{_string(actor_type)},"data":{_value(data)},'
            f'"organization_id":{"null" if organization_id is None else organization_id},"seq":{seq},'
            f'"target_id":{_string(target_id)},"target_type":{_string(target_type)},"time":"{time.isoformat()}"}}'
        ).encode()
    # `data` was checked for canonical JSON when the event was recorded (audit.services.event_record).
    return canonical_json_checked(
        {
            "seq": seq,
            "time": time.isoformat(),
            "actor_type": actor_type,
            "actor_id": actor_id,
            "actor_label": actor_label,
            "action": action,
            "target_type": target_type,
            "target_id": target_id,
            "data": data,
            "organization_id": organization_id,
        }
    )


class AuditLeaf(models.Model):
    """Leaf `index` of the tree holds event `seq`. Kept when the retention purge drops the event body."""

    index = models.BigIntegerField(primary_key=True)
    seq = models.BigIntegerField(unique=True)

    def __str__(self):
        return f"leaf {self.index} (event #{self.seq})"


class AuditNode(models.Model):
    """The hash of a perfect subtree (leaves at level 0): what inclusion and consistency proofs are made of.

    `key` is `level << 56 | index`, so that a proof's O(log² n) nodes come back in one `key IN (...)` query.
    """

    key = models.BigIntegerField(primary_key=True)
    hash = models.BinaryField(max_length=32)

    def __str__(self):
        return f"node {self.key >> NODE_LEVEL_SHIFT}/{self.key & ((1 << NODE_LEVEL_SHIFT) - 1)}"


def node_key(level: int, index: int) -> int:
    return level << NODE_LEVEL_SHIFT | index


class AuditTree(models.Model):
    """The integrated size of the tree: only the integrator locks and moves it, never an appender."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    size = models.BigIntegerField(default=0)
    last_seq = models.BigIntegerField(default=0)  # the highest event seq integrated so far

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="audit_tree_singleton")]

    def __str__(self):
        return f"audit tree of {self.size} leaves"


class AuditGap(models.Model):
    """Event numbers [first, last] the integrator passed without finding an event: a writer's transaction may
    still commit them (a late event) or never will (rolled back). The integrator looks for events in these
    ranges on each run until `noticed` is older than its late window, instead of scanning every recent event.
    """

    first = models.BigIntegerField(primary_key=True)
    last = models.BigIntegerField()
    noticed = models.DateTimeField(db_index=True)

    def __str__(self):
        return f"events #{self.first}..#{self.last} not seen yet"


class AuditCheckpoint(models.Model):
    """A signed tree head: a C2SP tlog-checkpoint (origin, size, root hash) in a C2SP signed note.

    The note is what the world sees and keeps. Checkpoints also form a chain of their own, for
    `audit_verify`: `number` counts 1, 2, 3… and `prev` is the SHA-256 of the previous note, both under
    `chain_signature` (canonical JSON, a separate message from the note), so a dropped checkpoint is a gap.
    """

    number = models.BigIntegerField(unique=True)
    size = models.BigIntegerField(db_index=True)
    root_hash = models.CharField(max_length=64)  # hex
    note = models.TextField()
    prev = models.CharField(max_length=64)
    time = models.DateTimeField()
    chain_signature = models.CharField(max_length=128)

    class Meta:
        ordering = ["number"]

    def __str__(self):
        return f"checkpoint {self.number}: {self.size} leaves"

    def chain_fields(self) -> dict:
        return {
            "number": self.number,
            "size": self.size,
            "root_hash": self.root_hash,
            "note_sha256": hashlib.sha256(self.note.encode()).hexdigest(),
            "prev": self.prev,
            "time": self.time.isoformat(),
        }
