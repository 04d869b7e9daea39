from celery import shared_task

from audit.services import events_purge, log_integrate


@shared_task
def audit_integrate_task():
    """Fold new events into the tree and sign a checkpoint if it grew (beat: every 30 seconds)."""
    checkpoint = log_integrate()
    return checkpoint.size if checkpoint else None


# The name beat and other code used before the log became a tree; the same task.
audit_checkpoint_task = audit_integrate_task


@shared_task
def audit_purge_task():
    return events_purge()
