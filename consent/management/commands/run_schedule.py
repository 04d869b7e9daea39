"""Run the periodic tasks of `CELERY_BEAT_SCHEDULE` in this process, for the embedded default.

With no broker (`make run`: SQLite, tasks run eagerly) there is no Celery beat, yet requests must still
expire, sample files must still be erased when their retention ends and the transparency log must still
sign checkpoints. This loop calls each scheduled task at its interval, in-process, as beat would have it
queued. A deployment with a broker runs `celery beat` instead; this command refuses to run beside it.
"""

import logging
import time
from datetime import timedelta

from celery import current_app as app
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

logger = logging.getLogger(__name__)


def due_tasks(schedule: dict, last_run: dict[str, float], now: float) -> list[str]:
    """Names of the entries whose interval has passed since they last ran (never run: due at once)."""
    due = []
    for name, entry in schedule.items():
        interval = entry["schedule"]
        seconds = interval.total_seconds() if isinstance(interval, timedelta) else float(interval)
        if name not in last_run or now - last_run[name] >= seconds:
            due.append(name)
    return due


def run_entry(name: str, entry: dict) -> bool:
    """Run one scheduled task in this process; a failure is logged and the loop goes on."""
    task = app.tasks[entry["task"]]
    try:
        task.apply(args=entry.get("args", ()), kwargs=entry.get("kwargs", {}), throw=True)
    except Exception:
        logger.exception("scheduled task %s (%s) failed; it runs again at its next interval", name, entry["task"])
        return False
    return True


class Command(BaseCommand):
    help = "Run the periodic tasks in this process (development without a broker: make run)."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="run every scheduled task once, then stop")

    def handle(self, *args, once: bool = False, **options):
        if settings.CELERY_BROKER_URL and not settings.CELERY_TASK_ALWAYS_EAGER:
            raise CommandError("A broker is configured: run `celery -A config beat` and a worker instead.")
        schedule = settings.CELERY_BEAT_SCHEDULE
        app.loader.import_default_modules()  # every task registered, as in a worker
        unknown = sorted({entry["task"] for entry in schedule.values()} - set(app.tasks))
        if unknown:
            raise CommandError(f"Scheduled tasks that do not exist: {', '.join(unknown)}")
        try:
            self._loop(schedule, once)
        except KeyboardInterrupt:
            return  # stopped with the server

    def _loop(self, schedule: dict, once: bool) -> None:
        last_run: dict[str, float] = {}
        while True:
            for name in due_tasks(schedule, last_run, time.monotonic()):
                ok = run_entry(name, schedule[name])
                last_run[name] = time.monotonic()
                if once:
                    self.stdout.write(f"{name}: {'done' if ok else 'failed (see the log)'}")
            if once:
                return
            time.sleep(1)
