"""Signed PDF records of consents and withdrawals: queued after commit, rendered once per (consent, kind)."""

import hashlib
import secrets
from datetime import timedelta

from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone

import audit
from consent.models import Artifact, Consent
from consent.records.render import artifact_build
from identity.queueing import enqueue_on_commit

__all__ = ["artifact_generate", "artifact_queue", "artifacts_sweep"]


def artifact_queue(*, consent: Consent, kind: str) -> None:
    """Queue rendering and signing of the artifact after commit. Called inside the grant/revoke transaction.

    Robust: the decision is already committed when this runs, so a failure to queue is logged rather than
    turned into an error for the person (the task's own retries handle rendering failures).
    """
    # consent.records.tasks imports this module: a module-level import would close the cycle.
    from consent.records.tasks import artifact_render_task

    enqueue_on_commit(artifact_render_task, consent.pk, kind)


def artifacts_sweep(*, now=None) -> int:
    """Queue artifacts that should exist but don't (the broker was down, or the task gave up)."""
    from consent.records.tasks import artifact_render_task  # the same cycle as above

    now = now or timezone.now()
    before, since = now - timedelta(minutes=5), now - timedelta(days=7)  # a permanent failure stops being retried
    missing = [
        *(
            (pk, Artifact.Kind.GRANT)
            for pk in Consent.objects.filter(granted_at__lt=before, granted_at__gt=since)
            .exclude(artifacts__kind=Artifact.Kind.GRANT)
            .values_list("pk", flat=True)[:200]
        ),
        *(
            (pk, Artifact.Kind.REVOCATION)
            for pk in Consent.objects.filter(revoked_at__lt=before, revoked_at__gt=since)
            .exclude(artifacts__kind=Artifact.Kind.REVOCATION)
            .values_list("pk", flat=True)[:200]
        ),
    ]
    for consent_id, kind in missing:
        artifact_render_task.delay(consent_id, kind)
    return len(missing)


def _load(consent_id: int) -> Consent:
    return (
        Consent.objects.select_related("organization", "person", "guardian", "item__request")
        .prefetch_related("item__samples")
        .get(pk=consent_id)
    )


def artifact_generate(*, consent_id: int, kind: str) -> Artifact:
    """Render, sign and store the record of `kind` for a consent; idempotent (one artifact per kind).

    Rendering and signing happen outside any transaction; only the row and its audit event are written
    atomically. If another run stored the same artifact meanwhile, its row wins and our file is removed.
    """
    existing = Artifact.objects.filter(consent_id=consent_id, kind=kind).first()
    if existing is not None:
        return existing
    if kind not in Artifact.Kind.values:
        raise ValueError(f"unknown artifact kind {kind!r}")
    consent = _load(consent_id)
    grant_sha256 = ""
    if kind == Artifact.Kind.REVOCATION:
        if consent.state != Consent.State.REVOKED:
            raise ValueError(f"consent #{consent_id} is not withdrawn; no withdrawal record")
        grant = Artifact.objects.filter(consent_id=consent_id, kind=Artifact.Kind.GRANT).first()
        grant_sha256 = grant.sha256 if grant else ""
    pdf = artifact_build(consent, kind, grant_sha256=grant_sha256)
    artifact = Artifact(consent=consent, kind=kind, sha256=hashlib.sha256(pdf).hexdigest(), size=len(pdf))
    # A name of its own per run: on object storage a race for one name would let the loser's clean-up
    # below delete the winner's record.
    name = f"consent-{consent_id}-{kind}-{secrets.token_hex(8)}.pdf"
    artifact.file.save(name, ContentFile(pdf), save=False)
    try:
        with transaction.atomic():
            artifact.save(force_insert=True)
            audit.record(
                "artifacts",
                "artifact.create",
                artifact,
                {
                    "organization": consent.organization_id,
                    "consent": consent_id,
                    "kind": kind,
                    "sha256": artifact.sha256,
                    "grant_sha256": grant_sha256 or None,
                },
            )
    except IntegrityError:
        artifact.file.storage.delete(artifact.file.name)
        return Artifact.objects.get(consent_id=consent_id, kind=kind)
    return artifact
