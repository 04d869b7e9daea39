from celery import shared_task

from audit.services import checkpoint_create, events_purge


@shared_task
def audit_checkpoint_task():
    checkpoint = checkpoint_create()
    return checkpoint.seq if checkpoint else None


@shared_task
def audit_purge_task():
    return events_purge()
