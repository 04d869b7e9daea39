from celery import shared_task

from audit.services import events_purge, log_integrate


@shared_task
def audit_integrate_task():
    """Fold new events into the tree and sign a checkpoint if it grew (beat: every 30 seconds)."""
    checkpoint = log_integrate()
    return checkpoint.size if checkpoint else None


@shared_task
def audit_checkpoint_task():
    """The name beat used before the log became a tree (messages queued across a deploy): the same work."""
    return audit_integrate_task()


@shared_task
def audit_purge_task():
    return events_purge()
