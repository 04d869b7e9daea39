"""The log on the real stack: concurrent appenders in separate processes, the integrator on a worker."""

import subprocess
import sys

import pytest

from audit.models import AuditCheckpoint, AuditEvent, AuditLeaf
from audit.services import tree_integrate
from audit.verify import log_verify
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


def test_two_processes_appending_500_events_each_all_land_in_the_tree_once(transactional_db):
    env = subprocess_env(DJANGO_SETTINGS_MODULE="config.settings")
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", APPENDER, "500", name], cwd=REPO, env=env, stderr=subprocess.PIPE, text=True
        )
        for name in ("proc-a", "proc-b")
    ]
    integrated = 0
    while any(process.poll() is None for process in processes):
        integrated += tree_integrate()  # the integrator runs while they write
    for process in processes:
        _, err = process.communicate(timeout=300)
        assert process.returncode == 0, err
    integrated += tree_integrate()
    assert integrated == AuditEvent.objects.count() == 1000
    assert set(AuditEvent.objects.values_list("actor_label", flat=True)) == {"proc-a", "proc-b"}
    assert list(AuditLeaf.objects.order_by("index").values_list("index", flat=True)) == list(range(1000))
    result = log_verify()
    assert result.ok, result


def test_integrate_task_runs_on_the_real_worker(celery_worker):
    import audit
    from audit.tasks import audit_integrate_task

    audit.record("alice", "thing.create", None, {})
    audit_integrate_task.delay()
    checkpoint = wait_for(lambda: AuditCheckpoint.objects.first())
    assert checkpoint.size == 1
