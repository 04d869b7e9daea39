"""Retention: reference samples are erased on the schedule promised to the person, and the consent app's
own logs (idempotency answers, the webhook outbox) are dropped once they have served their purpose."""

from datetime import datetime, timedelta

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

import audit
from consent.models import Consent, IdempotencyRecord, RequestItem, Sample, WebhookEvent
from consent.previews import preview_name
from consent.uploads import kept_purge

__all__ = [
    "IDEMPOTENCY_KEEP",
    "consent_logs_purge",
    "item_erasure_files",
    "item_samples_erase",
    "item_samples_erase_due_at",
    "retention_days_effective",
    "samples_erase_due",
]

IDEMPOTENCY_KEEP = timedelta(days=7)  # retries come within minutes; a week is generous

# Items whose consent has ended, or which ended without one: their samples are kept only `retention_days`.
ENDED_ITEM_STATES = [RequestItem.State.DENIED, RequestItem.State.CANCELLED, RequestItem.State.EXPIRED]
ENDED_CONSENT_STATES = [Consent.State.REVOKED, Consent.State.EXPIRED]


def retention_days_effective(days: int) -> int:
    """A request's retention, never beyond today's platform maximum (lowering it shortens old promises)."""
    return min(days, settings.SAMPLE_RETENTION_MAX_DAYS)


def _item_ended_at(item: RequestItem) -> datetime | None:
    """When the item's use of the samples ended: its consent withdrawn or expired, or the item closed without
    one (denied, cancelled, expired). None while it is pending or its consent is active."""
    if item.state in ENDED_ITEM_STATES:
        return item.decided_at
    consent = getattr(item, "consent", None) if item.state == RequestItem.State.GRANTED else None
    if consent is None or consent.state not in ENDED_CONSENT_STATES:
        return None
    return consent.revoked_at or consent.expired_at


def item_samples_erase_due_at(item: RequestItem) -> datetime | None:
    """When the item's samples are due for erasure, or None while they are still in use."""
    ended = _item_ended_at(item)
    if ended is None:
        return None
    return ended + timedelta(days=retention_days_effective(item.request.retention_days))


def item_erasure_files(item: RequestItem) -> list[str]:
    """Every stored file that retention erases for one item: the sample files and their previews.

    The one place that lists them: whatever else later holds a copy of the person's face or voice for an
    item (a thumbnail, a recording) is added here, and both the schedule and the account deletion erase it.
    """
    names = []
    for sample in item.samples.filter(erased_at__isnull=True).exclude(file=""):
        names.append(sample.file.name)
        if sample.kind == Sample.Kind.IMAGE:
            names.append(preview_name(sample.sha256))
    return names


def item_samples_erase(*, item_id: int, actor="retention", reason: str = "schedule", now=None) -> int:
    """Erase the files of one item's samples (and their previews) after commit; the rows, their SHA-256,
    the terms and the signed records stay as proof. Returns how many samples were erased (0 if none left)."""
    now = now or timezone.now()
    with transaction.atomic():
        item = RequestItem.objects.select_for_update().select_related("request").get(pk=item_id)
        names = item_erasure_files(item)
        samples = item.samples.filter(erased_at__isnull=True).exclude(file="")
        hashes = sorted(samples.values_list("sha256", flat=True))
        if not hashes:
            return 0
        samples.update(file="", erased_at=now)
        audit.record(
            actor,
            "item.samples_erase",
            item,
            {"reason": reason, "samples": hashes, "retention_days": item.request.retention_days},
            organization=item.request.organization_id,
        )
        transaction.on_commit(lambda: [default_storage.delete(name) for name in names])  # missing names: no-op
    return len(hashes)


def samples_erase_due(*, now=None) -> dict:
    """The periodic retention run: erase the samples of every item whose retention period is over.

    Idempotent and restartable: each item is erased in its own transaction, and an erased sample is
    never picked again. Files whose deletion was interrupted are deleted again by the next run.
    """
    now = now or timezone.now()
    candidates = (
        RequestItem.objects.filter(samples__in=Sample.objects.filter(erased_at__isnull=True).exclude(file=""))
        .filter(
            Q(state__in=ENDED_ITEM_STATES, decided_at__lte=now)
            | Q(state=RequestItem.State.GRANTED, consent__state__in=ENDED_CONSENT_STATES)
        )
        .select_related("request", "consent")
        .distinct()
    )
    erased_items = erased_samples = 0
    for item in candidates:
        due = item_samples_erase_due_at(item)
        if due is not None and due <= now:
            count = item_samples_erase(item_id=item.pk, now=now)
            erased_samples += count
            erased_items += 1 if count else 0
    return {"items": erased_items, "samples": erased_samples}


@transaction.atomic
def consent_logs_purge(*, now=None) -> dict:
    """Drop idempotency answers after a week, and finished webhook events (with their delivery log, and
    the tokens their payloads carry) after the audit retention period (at least 180 days)."""
    now = now or timezone.now()
    idempotency, _ = IdempotencyRecord.objects.filter(created_at__lt=now - IDEMPOTENCY_KEEP).delete()
    finished = WebhookEvent.objects.filter(
        created_at__lt=now - timedelta(days=settings.AUDIT_RETENTION_DAYS),
        state__in=[WebhookEvent.State.DELIVERED, WebhookEvent.State.FAILED, WebhookEvent.State.NO_ENDPOINT],
    )
    events = finished.count()
    finished.delete()
    result = {"idempotency_records": idempotency, "webhook_events": events, "kept_uploads": kept_purge(now=now)}
    if idempotency or events or result["kept_uploads"]:
        audit.record("retention purge", "consent.logs_purge", None, result)
    return result
