"""Audit on the real stack: concurrent appenders in separate processes, and the checkpoint task on a worker."""

import subprocess
import sys

import pytest

from audit.models import AuditCheckpoint, AuditEvent
from audit.verify import chain_verify
from tests.conftest import REPO, subprocess_env, wait_for

pytestmark = pytest.mark.realstack

APPENDER = """
import django, sys
django.setup()
from django.db import transaction
import audit
for i in range(int(sys.argv[1])):
    with transaction.atomic():
        audit.record(sys.argv[2], "load.append", None, {"i": i})
"""


def test_two_processes_appending_500_events_each_never_fork_the_chain(transactional_db):
    env = subprocess_env(DJANGO_SETTINGS_MODULE="config.settings")
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", APPENDER, "500", name], cwd=REPO, env=env, stderr=subprocess.PIPE, text=True
        )
        for name in ("proc-a", "proc-b")
    ]
    for process in processes:
        _, err = process.communicate(timeout=300)
        assert process.returncode == 0, err
    assert AuditEvent.objects.count() == 1000
    assert list(AuditEvent.objects.values_list("seq", flat=True)) == list(range(1, 1001))
    assert set(AuditEvent.objects.values_list("actor_label", flat=True)) == {"proc-a", "proc-b"}
    result = chain_verify()
    assert result.ok, result


def test_checkpoint_task_runs_on_the_real_worker(celery_worker):
    import audit
    from audit.tasks import audit_checkpoint_task

    audit.record("alice", "thing.create", None, {})
    audit_checkpoint_task.delay()
    checkpoint = wait_for(lambda: AuditCheckpoint.objects.first())
    assert checkpoint.seq == 1
