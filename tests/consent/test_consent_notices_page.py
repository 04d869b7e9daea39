"""A consent's page lists the messages we sent the person about it: in words, newest first, theirs only."""

import re
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from consent import selectors, services
from consent.models import Notification, NotificationAttempt
from identity import services as identity_services
from tests.consent.conftest import PERSON_NAME, PERSON_PHONE, portal_sign_in

pytestmark = pytest.mark.django_db

QUINN_PHONE = "+8613700001111"
QUINN_ID = "110101199003070011"
Reason = Notification.Reason


@pytest.fixture(autouse=True)
def _no_pdf_rendering(monkeypatch):
    from consent.records.tasks import artifact_render_task

    monkeypatch.setattr(artifact_render_task, "delay", lambda *args, **kwargs: None)


def deliver(notification: Notification) -> Notification:
    services.notification_deliver(notification_id=notification.pk)
    return Notification.objects.get(pk=notification.pk)


def queue_notice(consent, reason) -> Notification:
    with transaction.atomic():
        return services.consent_notice_queue(consent=consent, reason=reason)


def at(notification: Notification, when) -> None:
    Notification.objects.filter(pk=notification.pk).update(created_at=when)


@pytest.fixture
def history(person_client, pending_request, operator, organization):
    """Pat's request: its first notice and a resend went out by SMS; she granted face and voice; face got a
    reminder (its e-mail failed) and then its end notice; voice got a reminder of its own, which face's page
    must not show."""
    client, request = person_client, pending_request
    initial = deliver(request.notifications.get(reason=Reason.INITIAL))
    at(initial, timezone.now() - timedelta(hours=1))  # the resend limit counts from the last notice
    resend = deliver(services.request_notify_again(actor=operator, organization=organization, request_id=request.pk))
    client.get(f"/r/{request.code}/")
    face = services.consent_grant(actor=client.person, item_id=request.items.get(position=1).pk)
    voice = services.consent_grant(actor=client.person, item_id=request.items.get(position=2).pk)
    reminder = deliver(queue_notice(face, Reason.EXPIRY_REMINDER))
    NotificationAttempt.objects.create(notification=reminder, channel="email", ok=False, error="SMTPException: 550")
    ended = deliver(queue_notice(face, Reason.EXPIRED))
    sibling = deliver(queue_notice(voice, Reason.EXPIRY_REMINDER))
    assert {n.state for n in (initial, resend, reminder, ended, sibling)} == {Notification.State.SENT}
    start = timezone.now() - timedelta(days=100)
    for notice, days in ((initial, 0), (resend, 1), (reminder, 80), (sibling, 80), (ended, 90)):
        at(notice, start + timedelta(days=days))
    return client, face, voice


def section(html: str) -> str:
    start = html.find('id="notices-heading"')
    assert start != -1, "no notices section"
    return html[start : html.find("</section>", start)]


def titles(html: str) -> list[str]:
    return re.findall(r'<li class="notice">\s*<div class="entry-head"><span class="entry-title">([^<]*)<', html)


def test_the_consent_page_lists_its_messages_in_words_newest_first(history):
    client, face, _voice = history
    html = client.get(f"/me/consents/{face.pk}/").content.decode()
    notices = section(html)
    assert ">Messages we sent you</h2>" in html
    assert titles(notices) == ["consent expired", "consent expires soon", "sent again on request", "first notice"]
    assert notices.count("SMS: sent") == 4
    assert "e-mail: could not be sent" in notices
    assert notices.count('<span class="state state-sent">sent</span>') == 4
    assert notices.count('<time datetime="') == 4
    assert re.search(r"<ol class=\"uses\">\s*<li class=\"notice\">", notices)  # a list, like the uses


def test_the_messages_show_no_codes_phone_numbers_or_gateway_text(history):
    client, face, _voice = history
    html = client.get(f"/me/consents/{face.pk}/").content.decode()
    for code in ("expiry_reminder", "initial", "resend", "SMTPException"):
        assert not re.search(rf"\b{code}\b(?!-scale)", html), code  # the viewport's "initial-scale" is no code
    notices = section(html)
    assert ">sms" not in notices and ">email" not in notices and "failed" not in notices.replace("state-failed", "")
    assert PERSON_PHONE not in html and PERSON_PHONE[-4:] not in notices
    for reference in NotificationAttempt.objects.exclude(reference="").values_list("reference", flat=True):
        assert reference not in html


def test_the_messages_read_in_chinese_by_default(history):
    client, face, _voice = history
    html = client.get(f"/me/consents/{face.pk}/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    notices = section(html)
    assert ">我们发给您的消息</h2>" in html
    assert titles(notices) == ["授权已过期", "授权即将到期", "应要求重新发送", "首次通知"]
    assert notices.count("短信：已发送") == 4
    assert "电子邮件：未能发送" in notices
    assert "Messages we sent you" not in html and "SMS: sent" not in html


def test_a_not_sent_reminder_says_the_consent_had_ended(history):
    client, _face, voice = history
    Notification.objects.filter(consent=voice).update(state=Notification.State.SKIPPED)
    NotificationAttempt.objects.filter(notification__consent=voice).delete()
    notices = section(client.get(f"/me/consents/{voice.pk}/").content.decode())
    assert titles(notices)[0] == "consent expires soon"
    assert "Not sent because the consent had already ended." in notices
    assert '<span class="state state-skipped">not sent</span>' in notices


def test_an_sms_the_gateway_took_on_any_attempt_reads_sent(history):
    # A retry after a gateway outage, and (either order) a worker killed after the gateway took the message.
    client, face, _voice = history
    initial = Notification.objects.get(reason=Reason.INITIAL)
    resend = Notification.objects.get(reason=Reason.RESEND)
    failed = NotificationAttempt.objects.create(notification=initial, channel="sms", ok=False, error="timeout")
    NotificationAttempt.objects.filter(pk=failed.pk).update(
        created_at=initial.attempts.get(ok=True).created_at - timedelta(minutes=1)
    )
    NotificationAttempt.objects.create(notification=resend, channel="sms", ok=False, error="timeout")
    notices = section(client.get(f"/me/consents/{face.pk}/").content.decode())
    assert notices.count("SMS: sent") == 4
    assert "SMS: could not be sent" not in notices


def test_a_notice_never_tried_says_the_request_was_no_longer_open(history):
    # What services.notify leaves when a resend's request was decided before it went: failed, no attempt.
    client, face, _voice = history
    resend = Notification.objects.get(reason=Reason.RESEND)
    Notification.objects.filter(pk=resend.pk).update(state=Notification.State.FAILED, sent_at=None)
    resend.attempts.all().delete()
    notices = section(client.get(f"/me/consents/{face.pk}/").content.decode())
    assert "Not sent because the request was no longer open." in notices
    assert '<span class="state state-failed">not sent</span>' in notices
    zh = section(client.get(f"/me/consents/{face.pk}/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode())
    assert "未发送：请求已不再开放。" in zh


def test_a_sibling_consents_messages_stay_on_its_own_page(history):
    client, face, voice = history
    voice_notices = section(client.get(f"/me/consents/{voice.pk}/").content.decode())
    assert titles(voice_notices) == ["consent expires soon", "sent again on request", "first notice"]
    assert {n.consent_id for n in selectors.notifications_for_consent(person=client.person, consent=face)} == {
        None,
        face.pk,
    }


def test_another_person_gets_404_and_the_selector_gives_them_nothing(history, client_factory):
    _client, face, _voice = history
    quinn_client = client_factory()
    portal_sign_in(quinn_client, QUINN_PHONE)
    assert quinn_client.post("/identity/", {"legal_name": PERSON_NAME, "id_number": QUINN_ID}).status_code == 302
    response = quinn_client.get(f"/me/consents/{face.pk}/")
    assert response.status_code == 404
    assert "notices-heading" not in response.content.decode()
    quinn = identity_services.person_for_phone(phone=QUINN_PHONE)
    # The owner filter in the selector itself, not only the page's consent look-up.
    assert list(selectors.notifications_for_consent(person=quinn, consent=face)) == []


def test_a_consent_with_no_messages_says_so(person_client, pending_request):
    client = person_client
    client.get(f"/r/{pending_request.code}/")
    face = services.consent_grant(actor=client.person, item_id=pending_request.items.get(position=1).pk)
    Notification.objects.filter(request=pending_request).delete()
    notices = section(client.get(f"/me/consents/{face.pk}/").content.decode())
    assert "We have sent you nothing about it yet." in notices
    assert "<ol" not in notices


def test_the_page_reads_as_many_queries_for_four_messages_as_for_one(history):
    client, face, _voice = history
    with CaptureQueriesContext(connection) as four:
        html = client.get(f"/me/consents/{face.pk}/").content.decode()
    assert len(titles(section(html))) == 4
    Notification.objects.filter(consent=face).delete()
    Notification.objects.filter(reason=Reason.RESEND).delete()
    with CaptureQueriesContext(connection) as one:
        html = client.get(f"/me/consents/{face.pk}/").content.decode()
    assert len(titles(section(html))) == 1
    assert len(four) == len(one)
