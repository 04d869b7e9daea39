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
        }


class AuditCheckpoint(models.Model):
    """A platform signature over (seq, hash, time): proves the chain up to `seq` existed then."""

    class Reason(models.TextChoices):
        INTERVAL = "interval", "every N events"
        DAILY = "daily", "daily"
        PURGE = "purge", "retention purge anchor"

    seq = models.BigIntegerField(db_index=True)
    hash = models.CharField(max_length=64)
    time = models.DateTimeField()
    reason = models.CharField(max_length=16, choices=Reason.choices)
    key_id = models.CharField(max_length=64)
    signature = models.CharField(max_length=128)

    class Meta:
        ordering = ["seq", "id"]

    def __str__(self):
        return f"checkpoint #{self.seq}"

    def signed_fields(self) -> dict:
        return {"seq": self.seq, "hash": self.hash, "time": self.time.isoformat()}
