"""The person's decision journey: landing before sign-in, summary before the real-name step, the item
cards, refusing from the code page, the next open item, the completion page, messages and the SMS."""

import re

import pytest

from audit.models import AuditEvent
from consent.models import Consent, RequestItem
from tests.consent.conftest import PERSON_PHONE, last_code, last_sms, portal_sign_in

pytestmark = pytest.mark.django_db


def _items(pending_request):
    return pending_request.items.order_by("position")


@pytest.fixture
def opened(person_client, pending_request):
    """Pat, verified, has opened the link (the request is theirs from then on)."""
    person_client.get(f"/r/{pending_request.code}/")
    return person_client


def test_the_sms_link_says_who_asks_but_nothing_personal_before_sign_in(client, pending_request):
    response = client.get(f"/r/{pending_request.code}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert f"{pending_request.organization.name} asks for your separate consent to edit your face and voice" in html
    assert "2 items to decide" in html
    assert "+86139****5678" in html and PERSON_PHONE not in html  # pre-filled, masked
    face = _items(pending_request).first()
    for personal in ("Film dubbing trailer", "Douyin channel", "user-4711", face.digest, "/samples/"):
        assert personal not in html
    assert pending_request.notice_retention not in html


def test_the_landing_button_sends_the_code_to_the_number_the_sms_went_to(client, pending_request):
    response = client.post(f"/r/{pending_request.code}/signin/")
    assert response.status_code == 302 and response["Location"] == "/signin/code/"
    assert "登录验证码" in last_sms()
    response = client.post("/signin/code/", {"code": last_code()})
    assert response["Location"] == f"/r/{pending_request.code}/"  # back to the request after the code


def test_a_visitor_with_an_unknown_link_gets_404_and_no_code_is_sent(client, pending_request):
    assert client.get("/r/not-a-code/").status_code == 404
    assert client.post("/r/not-a-code/signin/").status_code == 404


def test_after_the_sms_code_the_summary_comes_before_the_real_name_step(client, pending_request):
    portal_sign_in(client)
    response = client.get(f"/r/{pending_request.code}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Film dubbing trailer" in html and "Narration" in html and "face swap" in html
    assert "Why we ask for your name and ID number" in html and "stored encrypted" in html
    assert f'href="/identity/?next=%2Fr%2F{pending_request.code}%2F"' in html
    assert "/items/" not in html  # nothing can be decided or previewed before the real-name step


def test_item_cards_show_words_previews_and_two_equal_choices(person_client, pending_request):
    html = person_client.get(f"/r/{pending_request.code}/").content.decode()
    face, voice = _items(pending_request)
    assert "face_swap" not in html and "voice_cloning" not in html and "SHA-256" not in html
    assert "Item 1: your face" in html and "Item 2: your voice" in html
    assert f'<img src="/r/{pending_request.code}/items/{face.pk}/samples/' in html
    assert f'<audio controls preload="metadata" src="/r/{pending_request.code}/items/{voice.pk}/samples/' in html
    assert "identity verified by mobile number" in html
    assert "may not ask you again for this for 30 days" in html  # the cool-down, before the person acts
    assert "Blocking means" in html


def test_refusing_from_the_code_page_asks_first_then_records_a_denial(opened, pending_request):
    face, _voice = _items(pending_request)
    base = f"/r/{pending_request.code}/items/{face.pk}"
    opened.post(f"{base}/code/")
    page = opened.get(f"{base}/grant/").content.decode()
    assert f'href="{base}/deny/"' in page and "Back (nothing is recorded)" in page

    confirm = opened.get(f"{base}/deny/")
    assert confirm.status_code == 200
    assert "For 30 days" in confirm.content.decode()
    face.refresh_from_db()
    assert face.state == RequestItem.State.PENDING  # asking is not refusing

    response = opened.post(f"{base}/deny/", {"reason": "not now"})
    assert response.status_code == 302
    face.refresh_from_db()
    assert face.state == RequestItem.State.DENIED and face.deny_reason == "not now"
    assert AuditEvent.objects.filter(action="item.deny", target_id=str(face.pk)).exists()


@pytest.mark.pdf  # the completion page links the signed record
def test_a_decision_leads_to_the_item_still_open_then_to_the_completion_page(opened, pending_request):
    face, voice = _items(pending_request)
    path = f"/r/{pending_request.code}/"
    opened.post(f"{path}items/{face.pk}/code/")
    response = opened.post(f"{path}items/{face.pk}/grant/", {"code": last_code()})
    assert response["Location"] == f"{path}#item-{voice.pk}"
    assert "Still open: item 2." in opened.get(path).content.decode()

    response = opened.post(f"{path}items/{voice.pk}/deny/", {"reason": ""})
    assert response["Location"] == f"{path}done/"
    done = opened.get(f"{path}done/").content.decode()
    assert "you agreed" in done and "you said no" in done
    consent = Consent.objects.get()
    assert f'href="/me/consents/{consent.pk}/"' in done and "How to withdraw" in done
    assert f"/me/consents/{consent.pk}/artifacts/grant.pdf" in done


def test_a_wrong_grant_code_says_wrong_code_and_how_many_tries_are_left(opened, pending_request):
    face, _voice = _items(pending_request)
    base = f"/r/{pending_request.code}/items/{face.pk}"
    opened.post(f"{base}/code/")
    wrong = "000000" if last_code() != "000000" else "111111"
    html = opened.post(f"{base}/grant/", {"code": wrong}).content.decode()
    assert "Wrong code. Check the SMS and try again: 4 tries left." in html
    assert Consent.objects.count() == 0


def test_the_resend_button_counts_down_the_wait_without_javascript_too(opened, pending_request):
    face, _voice = _items(pending_request)
    base = f"/r/{pending_request.code}/items/{face.pk}"
    opened.post(f"{base}/code/")
    html = opened.get(f"{base}/grant/").content.decode()
    wait = re.search(r'data-wait="(\d+)"', html)
    assert wait and 55 <= int(wait.group(1)) <= 60
    assert f"(in {wait.group(1)} s)" in html  # said in the page itself; the script only makes it live
    assert "js/countdown.js" in html


def test_the_grant_sms_is_one_segment_naming_organisation_item_and_digest_once(opened, pending_request):
    face, _voice = _items(pending_request)
    opened.post(f"/r/{pending_request.code}/items/{face.pk}/code/")
    sms = last_sms()
    assert len(sms) <= 70, sms  # one UCS-2 segment
    assert pending_request.organization.name[:12] in sms and "人脸" in sms
    assert sms.count(face.digest) == 1


def test_every_portal_page_has_the_footer_and_the_request_pages_name_the_controller(client, pending_request):
    html = client.get(f"/r/{pending_request.code}/").content.decode()
    assert 'href="/privacy/"' in html and "help@likeness-consent.example" in html
    assert f"Data controller for this request: {pending_request.organization.name}" in html
    signin = client.get("/signin/").content.decode()
    assert 'href="/privacy/"' in signin and 'aria-current="step"' in signin
    assert client.get("/privacy/").status_code == 200


def test_form_labels_carry_no_trailing_colon(opened, pending_request):
    face, _voice = _items(pending_request)
    html = opened.get(f"/r/{pending_request.code}/items/{face.pk}/deny/").content.decode()
    assert '<label for="id_reason">Reason (optional)</label>' in html


def test_the_link_of_a_deleted_account_sends_no_code_to_its_masked_number(opened, client_factory, pending_request):
    from consent import services
    from identity.models import OutboxMessage

    services.person_delete(person=opened.person)
    sent = OutboxMessage.objects.count()
    visitor = client_factory()
    assert visitor.get(f"/r/{pending_request.code}/").status_code == 404
    assert visitor.post(f"/r/{pending_request.code}/signin/").status_code == 404
    assert OutboxMessage.objects.count() == sent
