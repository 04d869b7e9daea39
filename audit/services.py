"""Writes to the audit log. Appends are serialised on the AuditHead row, so the chain never forks."""

import hashlib
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from audit import keys
from audit.canonical import canonical_json, sha256_hex
from audit.models import GENESIS_HASH, AuditCheckpoint, AuditEvent, AuditHead
from errors import ApplicationError


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


def _lock_head() -> AuditHead:
    try:
        return AuditHead.objects.select_for_update().get(id=1)
    except AuditHead.DoesNotExist:
        # A flushed database (tests) has no head row; create it without racing another process.
        AuditHead.objects.bulk_create([AuditHead(id=1)], ignore_conflicts=True)
        return AuditHead.objects.select_for_update().get(id=1)


def _organization_id(organization, target, data: dict) -> int | None:
    """The organisation an event concerns: given, else the target's own, else data["organization"]."""
    if organization is not None:
        return organization if isinstance(organization, int) else organization.pk
    # Duck-typed so that audit imports nothing of identity or consent.
    if isinstance(target, models.Model) and isinstance(getattr(target, "organization_id", None), int):
        return target.organization_id
    value = data.get("organization")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def event_record(*, actor, action: str, target=None, data: dict | None = None, organization=None) -> AuditEvent:
    """Append one event to the chain in the caller's transaction (or a new one).

    The event commits if and only if the caller's change commits. `organization` (an Organization or
    its id) scopes the event to that organisation's audit trail; without it the target's organisation
    is used when it has one.
    """
    data = data or {}
    with transaction.atomic():
        head = _lock_head()
        actor_type, actor_id, actor_label = _describe(actor)
        target_type, target_id, _ = _describe(target) if target is not None else ("", "", "")
        event = AuditEvent(
            seq=head.seq + 1,
            time=timezone.now(),
            actor_type=actor_type,
            actor_id=actor_id,
            actor_label=actor_label,
            action=action,
            target_type=target_type,
            target_id=target_id,
            data=data,
            organization_id=_organization_id(organization, target, data),
            prev_hash=head.hash,
        )
        event.hash = sha256_hex(event.hashed_fields())
        event.save(force_insert=True)
        head.seq, head.hash = event.seq, event.hash
        head.save(update_fields=["seq", "hash"])
        if event.seq % settings.AUDIT_CHECKPOINT_EVERY == 0:
            _checkpoint_write(seq=event.seq, hash_=event.hash, reason=AuditCheckpoint.Reason.INTERVAL)
    return event


def _checkpoint_write(*, seq: int, hash_: str, reason: str) -> AuditCheckpoint:
    """Sign (seq, hash) as the next link of the checkpoint chain. The caller holds the head lock."""
    last = AuditCheckpoint.objects.order_by("-cp_seq").first()
    checkpoint = AuditCheckpoint(
        cp_seq=last.cp_seq + 1 if last else 1,
        prev=checkpoint_link(last),
        seq=seq,
        hash=hash_,
        time=timezone.now(),
        reason=reason,
    )
    checkpoint.key_id = keys.platform_key_id()
    checkpoint.signature = keys.sign(canonical_json(checkpoint.signed_fields()))
    checkpoint.save(force_insert=True)
    return checkpoint


def checkpoint_link(checkpoint: AuditCheckpoint | None) -> str:
    """What the next checkpoint signs as `prev`: the hash of this one's signature (or genesis)."""
    return hashlib.sha256(checkpoint.signature.encode()).hexdigest() if checkpoint else GENESIS_HASH


@transaction.atomic
def checkpoint_create(*, reason: str = AuditCheckpoint.Reason.DAILY) -> AuditCheckpoint | None:
    """Sign the current head unless the newest checkpoint already signs it. None on an empty log.

    Run by beat every hour: a truncation of the log can only hide the events written since.
    """
    head = _lock_head()
    if head.seq == 0:
        return None
    newest = AuditCheckpoint.objects.order_by("-cp_seq").first()
    if newest and (newest.seq, newest.hash) == (head.seq, head.hash):
        return newest
    return _checkpoint_write(seq=head.seq, hash_=head.hash, reason=reason)


@transaction.atomic
def events_purge(*, now: datetime | None = None, retention_days: int | None = None) -> int:
    """Delete events older than the retention period, leaving a signed anchor checkpoint.

    The anchor records the hash of the last deleted event, so the remaining chain still verifies.
    """
    days = settings.AUDIT_RETENTION_DAYS if retention_days is None else retention_days
    if days < settings.AUDIT_MIN_RETENTION_DAYS:
        raise PurgeRefused(days=days, minimum=settings.AUDIT_MIN_RETENTION_DAYS)
    cutoff = (now or timezone.now()) - timedelta(days=days)
    _lock_head()
    last = AuditEvent.objects.filter(time__lt=cutoff).order_by("-seq").first()
    if last is None:
        return 0
    _checkpoint_write(seq=last.seq, hash_=last.hash, reason=AuditCheckpoint.Reason.PURGE)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL audit.allow_purge = 'on'")
        cursor.execute(f"DELETE FROM {AuditEvent._meta.db_table} WHERE seq <= %s", [last.seq])  # noqa: S608
        deleted = cursor.rowcount
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL audit.allow_purge = 'off'")
    event_record(
        actor="retention purge",
        action="audit.purge",
        data={"deleted_through_seq": last.seq, "deleted": deleted, "retention_days": days},
    )
    checkpoint_create()
    return deleted
