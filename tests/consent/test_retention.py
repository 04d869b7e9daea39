from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from consent import services
from consent.models import IdempotencyRecord, WebhookEvent
from consent.tasks import consent_logs_purge_task

pytestmark = pytest.mark.django_db


def test_old_idempotency_answers_and_finished_webhook_events_are_purged(organization):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        IdempotencyRecord.objects.create(organization=organization, key="k", body_sha256="0" * 64)
        for n, state in enumerate([WebhookEvent.State.DELIVERED, WebhookEvent.State.PENDING]):
            WebhookEvent.objects.create(
                organization=organization, event_id=f"msg_{n}", type="t", payload={}, state=state
            )
    pending = WebhookEvent.objects.get(state=WebhookEvent.State.PENDING)

    with time_machine.travel(start + timedelta(days=6)):
        assert consent_logs_purge_task.delay().get() == {
            "idempotency_records": 0,
            "webhook_events": 0,
            "kept_uploads": 0,
        }
    with time_machine.travel(start + timedelta(days=8)):
        assert services.consent_logs_purge()["idempotency_records"] == 1
    with time_machine.travel(start + timedelta(days=366)):
        assert services.consent_logs_purge()["webhook_events"] == 1
    assert list(WebhookEvent.objects.values_list("pk", flat=True)) == [pending.pk]  # unfinished work is kept
