from django.db import models

GENESIS_HASH = "0" * 64


class AuditHead(models.Model):
    """The single row that serialises appends: whoever holds its lock writes the next event."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    seq = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64, default=GENESIS_HASH)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="audit_head_singleton")]

    def __str__(self):
        return f"audit head #{self.seq}"


class AppendOnlyError(Exception):
    pass


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("audit events are append-only; they cannot be updated")

    def delete(self):
        raise AppendOnlyError("audit events are append-only; only the retention purge removes them")


class AuditEvent(models.Model):
    seq = models.BigIntegerField(unique=True)
    time = models.DateTimeField(db_index=True)
    actor_type = models.CharField(max_length=64)
    actor_id = models.CharField(max_length=64, blank=True)
    actor_label = models.CharField(max_length=200, blank=True)
    action = models.CharField(max_length=64, db_index=True)
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    data = models.JSONField(default=dict)
    # The organisation the event concerns: a plain integer, not a foreign key, so that audit imports
    # nothing of identity and no deletion elsewhere can cascade into the log.
    organization_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    # 1: written before organization_id existed, so the hash does not cover it (verify instead checks
    # it equals data["organization"], which the hash does cover). 2: the hash covers organization_id.
    hash_version = models.PositiveSmallIntegerField(default=2)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["seq"]
        indexes = [models.Index(fields=["target_type", "target_id"], name="audit_target_idx")]

    def __str__(self):
        return f"#{self.seq} {self.action}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError("audit events are append-only; an existing event cannot be saved")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("audit events are append-only; only the retention purge removes them")

    def hashed_fields(self) -> dict:
        return {
            "seq": self.seq,
            "time": self.time.isoformat(),
            "actor_type": self.actor_type,
            "actor_id": self.actor_id,
            "actor_label": self.actor_label,
            "action": self.action,
            "target_type": self.target_type,
            "target_id": self.target_id,
            "data": self.data,
            "prev_hash": self.prev_hash,
        } | ({"organization_id": self.organization_id, "v": 2} if self.hash_version >= 2 else {})


class AuditCheckpoint(models.Model):
    """A platform signature over the chain at (seq, hash): proves the log up to `seq` existed then.

    Checkpoints form their own signed chain: `cp_seq` counts 1, 2, 3… without gaps and `prev` is the
    SHA-256 of the previous checkpoint's signature, both under the signature (version 2). Removing a
    checkpoint leaves a gap or a broken link; removing the newest ones is caught by an outside auditor
    who kept a later checkpoint (`audit_checkpoint_latest`, `audit_verify --checkpoint`).
    """

    class Reason(models.TextChoices):
        INTERVAL = "interval", "every N events"
        DAILY = "daily", "scheduled (beat)"
        PURGE = "purge", "retention purge anchor"

    cp_seq = models.BigIntegerField(unique=True)
    prev = models.CharField(max_length=64)
    # 1: signed before checkpoints were chained; the signature covers (seq, hash, time) only.
    version = models.PositiveSmallIntegerField(default=2)
    seq = models.BigIntegerField(db_index=True)
    hash = models.CharField(max_length=64)
    time = models.DateTimeField()
    reason = models.CharField(max_length=16, choices=Reason.choices)
    key_id = models.CharField(max_length=64)
    signature = models.CharField(max_length=128)

    class Meta:
        ordering = ["cp_seq"]

    def __str__(self):
        return f"checkpoint {self.cp_seq} at event #{self.seq}"

    def signed_fields(self) -> dict:
        fields = {"seq": self.seq, "hash": self.hash, "time": self.time.isoformat()}
        if self.version >= 2:
            fields |= {"cp_seq": self.cp_seq, "prev": self.prev, "reason": self.reason, "v": 2}
        return fields

    def as_json(self) -> dict:
        """What an outside auditor keeps: enough to check the signature and find this checkpoint again."""
        return self.signed_fields() | {"key_id": self.key_id, "signature": self.signature}
