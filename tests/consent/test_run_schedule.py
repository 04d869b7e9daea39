"""`manage.py run_schedule`: the periodic tasks of the embedded default (`make run`, no broker, no beat)."""

import io
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from audit.models import AuditCheckpoint
from consent.builders import build_request
from consent.management.commands import run_schedule
from consent.models import ConsentRequest


def test_an_entry_is_due_when_never_run_or_its_interval_has_passed():
    schedule = {"fast": {"task": "t", "schedule": timedelta(seconds=30)}, "slow": {"task": "t", "schedule": 3600.0}}
    assert run_schedule.due_tasks(schedule, {}, now=100.0) == ["fast", "slow"]
    assert run_schedule.due_tasks(schedule, {"fast": 100.0, "slow": 100.0}, now=129.0) == []
    assert run_schedule.due_tasks(schedule, {"fast": 100.0, "slow": 100.0}, now=130.0) == ["fast"]


@pytest.mark.django_db
def test_once_runs_every_scheduled_task_so_requests_expire_and_the_log_signs_a_checkpoint(
    settings, organization, operator
):
    consent_request = build_request(actor=operator, organization=organization, phone="+8613700002222")
    ConsentRequest.objects.filter(pk=consent_request.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    out = io.StringIO()
    call_command("run_schedule", "--once", stdout=out)
    assert out.getvalue().splitlines() == [f"{name}: done" for name in settings.CELERY_BEAT_SCHEDULE]
    consent_request.refresh_from_db()
    assert consent_request.state == ConsentRequest.State.EXPIRED
    assert AuditCheckpoint.objects.exists()


@pytest.mark.django_db
def test_a_failing_task_is_reported_and_the_others_still_run(settings, organization, operator, monkeypatch):
    logged = []
    monkeypatch.setattr(run_schedule.logger, "exception", lambda message, *args: logged.append(message % args))
    settings.CELERY_BEAT_SCHEDULE = {
        "broken": {"task": "consent.tasks.webhook_deliver_task", "schedule": 60, "args": ("not a number",)},
        "audit-integrate": {"task": "audit.tasks.audit_integrate_task", "schedule": 30},
    }
    build_request(actor=operator, organization=organization, phone="+8613700002222")
    out = io.StringIO()
    call_command("run_schedule", "--once", stdout=out)
    assert out.getvalue().splitlines() == ["broken: failed (see the log)", "audit-integrate: done"]
    assert logged == [
        "scheduled task broken (consent.tasks.webhook_deliver_task) failed; it runs again at its next interval"
    ]
    assert AuditCheckpoint.objects.exists()


@pytest.mark.django_db  # importing the task modules lets Celery's Django fixup check the connection
def test_it_refuses_to_run_beside_a_broker_and_names_unknown_tasks(settings):
    settings.CELERY_BROKER_URL, settings.CELERY_TASK_ALWAYS_EAGER = "redis://127.0.0.1:6379/0", False
    with pytest.raises(CommandError, match="celery -A config beat"):
        call_command("run_schedule", "--once")
    settings.CELERY_BROKER_URL, settings.CELERY_TASK_ALWAYS_EAGER = "", True
    settings.CELERY_BEAT_SCHEDULE = {"gone": {"task": "consent.tasks.no_such_task", "schedule": 60}}
    with pytest.raises(CommandError, match=r"consent\.tasks\.no_such_task"):
        call_command("run_schedule", "--once")
