"""The Celery task that renders and signs a consent's PDF record after the decision commits."""

from celery import shared_task

from consent.models import Consent
from consent.services.artifacts import artifact_generate


@shared_task(
    name="consent.artifact_tasks.artifact_render_task",  # its name before the move: queued messages still find it
    autoretry_for=(Exception,),
    dont_autoretry_for=(ValueError, Consent.DoesNotExist),
    retry_backoff=30,
    retry_backoff_max=3600,
    retry_jitter=True,
    max_retries=8,
)
def artifact_render_task(consent_id: int, kind: str) -> int:
    """Idempotent: a retry or a second delivery returns the artifact already stored."""
    return artifact_generate(consent_id=consent_id, kind=kind).pk
