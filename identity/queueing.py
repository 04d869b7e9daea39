"""Queue a Celery task after the current transaction commits, surviving a broker outage.

The change has committed by then, so a broker error must not turn into an error for the user. Every
task queued this way has a durable record (a notification, a device code, an outbox event, a consent
without its artifact) that a periodic sweep picks up again.
"""

import logging

from django.db import transaction

logger = logging.getLogger(__name__)


def enqueue_on_commit(task, *args) -> None:
    def send():
        try:
            task.delay(*args)
        except Exception:  # broker unreachable: the sweep retries from the database
            logger.warning("could not queue %s%r; the periodic sweep will retry", task.name, args, exc_info=True)

    transaction.on_commit(send)
