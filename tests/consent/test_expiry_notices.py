"""The person hears of their consent's end: one reminder before it expires, one notice when it has.

Through the sweeps (the services beat's tasks call) and the notification task; SMS to the dev outbox, or to
the local fake gateway (tests/identity/fake_gateway.py) where the idempotency key on the wire matters.
"""

from datetime import timedelta

import pytest
import time_machine
from django.core import mail as django_mail
from django.db import transaction
from django.utils import timezone

from audit.models import AuditEvent
from consent import services
from consent.builders import build_granted_consent, face_item, voice_item
from consent.errors import RateLimited
from consent.models import Consent, Notification
from consent.tasks import consent_expire_task, consent_expiry_remind_task, request_notify_task
from identity import services as identity_services
from identity.crypto import mask_phone
from identity.models import OutboxMessage
from tests.config.test_health_and_security import python_with_settings
from tests.conftest import retry_countdowns
from tests.consent.conftest import PERSON_PHONE, request_input
from tests.identity.conftest import fake  # noqa: F401  (the local fake gateway fixture)

pytestmark = pytest.mark.django_db

REMINDER = Notification.Reason.EXPIRY_REMINDER
EXPIRED = Notification.Reason.EXPIRED


def texts_to_pat() -> list[str]:
    """The SMS Pat received, oldest first: the request's notice, then whatever the sweeps sent."""
    return list(
        OutboxMessage.objects.filter(to=mask_phone(PERSON_PHONE), channel="sms")
        .order_by("created_at", "id")
        .values_list("body", flat=True)
    )


@pytest.fixture
def consent(pat_verified, organization, operator) -> Consent:
    """Pat's face consent (face swap and face generation), valid for 90 days, asked in Chinese."""
    item = face_item(operations=["face_swap", "face_generation"])
    return build_granted_consent(person=pat_verified, actor=operator, organization=organization, items=[item])


def later_than(consent: Consent) -> str:
    return (consent.valid_until + timedelta(seconds=1)).isoformat()


def reminder_time(consent: Consent, days: int = 7) -> str:
    """An hour into the reminder window before the consent's end."""
    return (consent.valid_until - timedelta(days=days) + timedelta(hours=1)).isoformat()


# ---- the notice that a consent expired ------------------------------------------------------------


def test_expiry_texts_the_person_once_and_a_second_sweep_sends_nothing(consent):
    before = len(texts_to_pat())
    consent_expire_task.apply(kwargs={"now": later_than(consent)})
    consent_expire_task.apply(kwargs={"now": later_than(consent)})  # beat again, or the task redelivered

    notice = Notification.objects.get(consent=consent)
    assert (notice.reason, notice.state, notice.request_id) == (
        EXPIRED,
        Notification.State.SENT,
        consent.item.request_id,
    )
    assert len(texts_to_pat()) == before + 1
    assert AuditEvent.objects.filter(action="consent.notified", target_id=str(consent.pk)).count() == 1


def test_the_expiry_notice_says_in_chinese_words_who_what_and_where_to_look(consent, organization):
    consent_expire_task.apply(kwargs={"now": later_than(consent)})
    text = texts_to_pat()[-1]
    assert text.startswith("【肖像授权】")
    assert organization.name in text
    assert "人脸" in text and "换脸（人脸替换）" in text and "人脸生成" in text  # the words, in the list's order
    assert "已到期" in text
    assert f"/me/consents/{consent.pk}/" in text
    assert "face_swap" not in text and "face_generation" not in text  # no codes


def test_the_expiry_notice_speaks_the_language_the_person_was_asked_in(pat_verified, organization, operator):
    consent = build_granted_consent(
        person=pat_verified, actor=operator, organization=organization, items=[voice_item()], language="en"
    )
    consent_expire_task.apply(kwargs={"now": later_than(consent)})
    text = texts_to_pat()[-1]
    assert text.startswith("【Likeness consent】Your consent to ")
    assert "for your voice (voice cloning) has expired" in text
    assert "声音" not in text


def test_the_notice_is_plain_text_so_an_ampersand_in_a_name_stays_one(consent, organization):
    identity_services.organization_update(actor="test", organization=organization, name="Li & Wang 影视")
    consent_expire_task.apply(kwargs={"now": later_than(consent)})
    assert "Li & Wang 影视" in texts_to_pat()[-1]


def test_an_e_mail_given_with_the_request_gets_the_notice_too_with_purpose_and_use(
    pat_verified, organization, operator
):
    consent = build_granted_consent(
        person=pat_verified, actor=operator, organization=organization, items=[face_item()], email="pat@example.org"
    )
    consent_expire_task.apply(kwargs={"now": later_than(consent)})
    [mail] = [m for m in django_mail.outbox if "已到期" in m.subject]  # tests keep e-mail in Django's outbox
    assert mail.to == ["pat@example.org"]
    assert organization.name in mail.subject
    assert "换脸（人脸替换）" in mail.body
    assert "Film dubbing trailer" in mail.body and "Douyin channel" in mail.body
    assert f"/me/consents/{consent.pk}/" in mail.body
    notice = Notification.objects.get(consent=consent)
    assert sorted(notice.attempts.values_list("channel", "ok")) == [("email", True), ("sms", True)]


def test_a_sweep_cut_off_before_queueing_leaves_the_notice_for_beats_sweep_which_sends_it_once(consent, monkeypatch):
    with monkeypatch.context() as broker_down:
        broker_down.setattr(request_notify_task, "delay", lambda *args: None)
        services.consents_expire(now=consent.valid_until + timedelta(seconds=1))
    notice = Notification.objects.get(consent=consent)
    assert notice.state == Notification.State.QUEUED  # committed with the expiry, not yet sent
    before = len(texts_to_pat())

    assert services.notifications_sweep(now=timezone.now() + timedelta(minutes=6)) == 1
    assert services.notifications_sweep(now=timezone.now() + timedelta(minutes=6)) == 0
    request_notify_task.apply(args=[notice.pk])  # the redelivered task of the same notification
    notice.refresh_from_db()
    assert notice.state == Notification.State.SENT
    assert len(texts_to_pat()) == before + 1


def test_every_try_of_an_expiry_notice_carries_its_idempotency_key_to_the_gateway(
    consent,
    settings,
    fake,  # noqa: F811
    monkeypatch,
):
    settings.SMS_BACKEND = "identity.sms.HttpSmsBackend"
    fake.configure(settings, "SMS_HTTP", "/sms", timeout=0.3)
    retry_countdowns_seen = retry_countdowns(monkeypatch, request_notify_task)
    fake.script(json={"message_id": "too-late"}, delay=5)  # the first try times out: it may have gone out

    consent_expire_task.apply(kwargs={"now": later_than(consent)})

    notice = Notification.objects.get(consent=consent)
    keys = [received.json["idempotency_key"] for received in fake.requests]
    assert keys == [f"consent-notification-{notice.pk}"] * 2
    assert all(received.signature_ok for received in fake.requests)
    assert fake.requests[0].json["to"] == PERSON_PHONE
    assert retry_countdowns_seen == [30]
    notice.refresh_from_db()
    assert notice.state == Notification.State.SENT


def test_a_person_who_deleted_their_account_gets_no_notice_still_queued(consent, monkeypatch, pat_verified):
    with monkeypatch.context() as broker_down:
        broker_down.setattr(request_notify_task, "delay", lambda *args: None)
        services.consents_expire(now=consent.valid_until + timedelta(seconds=1))
    services.person_delete(person=pat_verified)
    outbox_before = OutboxMessage.objects.count()

    request_notify_task.apply(args=[Notification.objects.get(consent=consent).pk])

    notice = Notification.objects.get(consent=consent)
    assert notice.state == Notification.State.SKIPPED
    assert OutboxMessage.objects.count() == outbox_before
    assert not notice.attempts.exists()
    assert AuditEvent.objects.filter(action="consent.notify_skipped", target_id=str(consent.pk)).count() == 1


# ---- the reminder before it expires ----------------------------------------------------------------


def test_the_reminder_goes_once_within_the_window_and_not_before(consent, organization):
    too_early = (consent.valid_until - timedelta(days=8)).isoformat()
    assert consent_expiry_remind_task.apply(kwargs={"now": too_early}).get() == 0
    assert not Notification.objects.filter(consent=consent).exists()
    before = len(texts_to_pat())

    assert consent_expiry_remind_task.apply(kwargs={"now": reminder_time(consent)}).get() == 1
    assert consent_expiry_remind_task.apply(kwargs={"now": reminder_time(consent)}).get() == 0
    later = (consent.valid_until - timedelta(hours=2)).isoformat()
    assert consent_expiry_remind_task.apply(kwargs={"now": later}).get() == 0

    reminder = Notification.objects.get(consent=consent)
    assert (reminder.reason, reminder.state) == (REMINDER, Notification.State.SENT)
    texts = texts_to_pat()
    assert len(texts) == before + 1
    until = timezone.localtime(consent.valid_until).date().isoformat()
    assert organization.name in texts[-1] and until in texts[-1] and "换脸（人脸替换）" in texts[-1]
    assert "须重新征求您的同意" in texts[-1]


def test_the_reminder_and_the_expiry_notice_are_one_each(consent):
    consent_expiry_remind_task.apply(kwargs={"now": reminder_time(consent)})
    consent_expire_task.apply(kwargs={"now": later_than(consent)})
    consent_expiry_remind_task.apply(kwargs={"now": later_than(consent)})
    assert sorted(Notification.objects.filter(consent=consent).values_list("reason", flat=True)) == [EXPIRED, REMINDER]


def test_the_reminder_window_follows_the_setting(consent, settings):
    settings.CONSENT_EXPIRY_REMINDER_DAYS = 3
    assert consent_expiry_remind_task.apply(kwargs={"now": reminder_time(consent, days=7)}).get() == 0
    assert consent_expiry_remind_task.apply(kwargs={"now": reminder_time(consent, days=3)}).get() == 1


def test_no_reminder_when_the_setting_is_zero(consent, settings):
    settings.CONSENT_EXPIRY_REMINDER_DAYS = 0
    assert consent_expiry_remind_task.apply(kwargs={"now": reminder_time(consent, days=1)}).get() == 0
    assert not Notification.objects.filter(consent=consent).exists()


def test_no_reminder_for_a_withdrawn_consent(consent, pat_verified):
    services.consent_revoke(person=pat_verified, consent_id=consent.pk)
    assert consent_expiry_remind_task.apply(kwargs={"now": reminder_time(consent)}).get() == 0
    assert not Notification.objects.filter(consent=consent).exists()


def test_no_reminder_for_a_consent_already_expired(consent):
    services.consents_expire(now=consent.valid_until - timedelta(days=10) + timedelta(days=30))
    consent.refresh_from_db()
    assert consent.state == Consent.State.EXPIRED
    # Still inside the window by the clock the sweep is given, but the consent has ended.
    assert consent_expiry_remind_task.apply(kwargs={"now": reminder_time(consent)}).get() == 0
    assert not Notification.objects.filter(consent=consent, reason=REMINDER).exists()


def test_no_reminder_for_a_consent_granted_inside_the_window(pat_verified, organization, operator):
    short = face_item(valid_until=timezone.localdate() + timedelta(days=3))
    consent = build_granted_consent(person=pat_verified, actor=operator, organization=organization, items=[short])
    assert consent_expiry_remind_task.apply(kwargs={"now": timezone.now().isoformat()}).get() == 0
    assert not Notification.objects.filter(consent=consent).exists()


def test_a_reminder_queued_before_a_withdrawal_is_not_sent(consent, pat_verified, monkeypatch):
    with monkeypatch.context() as broker_down:
        broker_down.setattr(request_notify_task, "delay", lambda *args: None)
        services.consent_expiry_reminders_queue(now=consent.valid_until - timedelta(days=7) + timedelta(hours=1))
    services.consent_revoke(person=pat_verified, consent_id=consent.pk)
    before = len(texts_to_pat())

    request_notify_task.apply(args=[Notification.objects.get(consent=consent).pk])

    assert Notification.objects.get(consent=consent).state == Notification.State.SKIPPED
    assert len(texts_to_pat()) == before


# ---- a consent's notices are not the organisation's sending ------------------------------------------


def test_notices_of_a_consents_end_do_not_count_against_the_organisations_limits(
    consent, organization, operator, settings
):
    consent_expiry_remind_task.apply(kwargs={"now": reminder_time(consent)})
    consent_expire_task.apply(kwargs={"now": later_than(consent)})
    assert Notification.objects.filter(request__person_phone=PERSON_PHONE).count() == 3  # request, two notices
    settings.NOTIFY_LIMIT_PER_ORGANIZATION_PHONE_DAY = 2
    settings.NOTIFY_LIMIT_PER_PHONE_DAY = 2
    settings.NOTIFY_LIMIT_PER_ORGANIZATION_HOUR = 2

    request = services.request_create(actor=operator, organization=organization, data=request_input())

    assert request.notifications.count() == 1
    with pytest.raises(RateLimited):  # the limit itself still holds for requests' own notices
        services.request_create(actor=operator, organization=organization, data=request_input())


def test_a_consents_expiry_notice_does_not_hold_back_resending_its_request(pat_verified, organization, operator):
    tomorrow = face_item(valid_until=timezone.localdate() + timedelta(days=1))
    with time_machine.travel(timezone.now(), tick=False) as clock:
        consent = build_granted_consent(
            person=pat_verified, actor=operator, organization=organization, items=[tomorrow, voice_item()]
        )
        request = consent.item.request
        clock.shift(timedelta(minutes=11))
        services.consents_expire(now=consent.valid_until + timedelta(seconds=1))  # the voice item is still open
        clock.shift(timedelta(minutes=1))

        notification = services.request_notify_again(actor=operator, organization=organization, request_id=request.pk)

    assert notification.reason == Notification.Reason.RESEND
    assert sorted(request.notifications.values_list("reason", flat=True)) == ["expired", "initial", "resend"]


# ---- the guards behind "exactly once" and "only while it is true" -----------------------------------


def test_a_consent_gets_one_notice_of_each_kind_even_if_asked_twice(consent):
    with transaction.atomic():
        first = services.consent_notice_queue(consent=consent, reason=REMINDER)
        second = services.consent_notice_queue(consent=consent, reason=REMINDER)
    assert first is not None and second is None
    assert Notification.objects.filter(consent=consent).count() == 1


def test_no_reminder_for_a_consent_past_its_end_that_the_expiry_sweep_has_not_reached_yet(consent):
    just_after = (consent.valid_until + timedelta(minutes=2)).isoformat()
    assert consent_expiry_remind_task.apply(kwargs={"now": just_after}).get() == 0
    assert not Notification.objects.filter(consent=consent).exists()


def test_a_second_reminder_sweep_looks_and_touches_nothing(consent, django_assert_num_queries):
    now = consent.valid_until - timedelta(days=7) + timedelta(hours=1)
    assert services.consent_expiry_reminders_queue(now=now) == 1
    with django_assert_num_queries(1):  # the look-up alone: no consent locked, no notice looked for
        assert services.consent_expiry_reminders_queue(now=now + timedelta(hours=1)) == 0


def test_the_reminder_sweep_does_not_even_lock_a_withdrawn_consent(consent, pat_verified, django_assert_num_queries):
    services.consent_revoke(person=pat_verified, consent_id=consent.pk)
    with django_assert_num_queries(1):
        assert services.consent_expiry_reminders_queue(now=consent.valid_until - timedelta(days=6)) == 0


def test_a_consent_withdrawn_while_the_reminder_sweep_runs_gets_no_reminder(
    pat_verified, organization, operator, monkeypatch
):
    first, second = (
        build_granted_consent(person=pat_verified, actor=operator, organization=organization, items=[face_item()])
        for _ in range(2)
    )

    def withdraw_the_second(*args):  # after the first reminder commits, the person withdraws the second
        services.consent_revoke(person=pat_verified, consent_id=second.pk)

    monkeypatch.setattr(request_notify_task, "delay", withdraw_the_second)
    now = first.valid_until - timedelta(days=7) + timedelta(hours=1)
    assert services.consent_expiry_reminders_queue(now=now) == 1
    assert Notification.objects.filter(consent=first, reason=REMINDER).exists()
    assert not Notification.objects.filter(consent=second).exists()


def test_a_reminder_still_queued_when_the_consent_ends_is_not_sent(consent, monkeypatch):
    with monkeypatch.context() as broker_down:
        broker_down.setattr(request_notify_task, "delay", lambda *args: None)
        services.consent_expiry_reminders_queue(now=consent.valid_until - timedelta(days=7) + timedelta(hours=1))
    before = len(texts_to_pat())
    reminder = Notification.objects.get(consent=consent)
    with time_machine.travel(consent.valid_until + timedelta(seconds=1)):  # beat's expiry sweep is minutes away
        request_notify_task.apply(args=[reminder.pk])
        request_notify_task.apply(args=[reminder.pk])  # and the same task redelivered
    reminder.refresh_from_db()
    assert reminder.state == Notification.State.SKIPPED
    assert len(texts_to_pat()) == before
    assert AuditEvent.objects.filter(action="consent.notify_skipped").count() == 1


def test_a_negative_reminder_setting_stops_start_up_naming_it():
    result = python_with_settings(
        "from django.conf import settings; settings.CONSENT_EXPIRY_REMINDER_DAYS", CONSENT_EXPIRY_REMINDER_DAYS="-1"
    )
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "CONSENT_EXPIRY_REMINDER_DAYS=-1" in result.stderr


def test_the_office_names_who_sent_an_expiry_notice_in_words(consent, operator_client):
    consent_expire_task.apply(kwargs={"now": later_than(consent)})
    body = operator_client.get(f"/office/requests/{consent.item.request_id}/").content.decode()
    assert "the service, automatically" in body and "<td>expiry</td>" not in body
    operator_client.cookies["django_language"] = "zh-hans"
    zh = operator_client.get(f"/office/requests/{consent.item.request_id}/").content.decode()
    assert "系统自动发送" in zh
