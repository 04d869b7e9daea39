"""The providers' back-office for consent: requests, consents, audit trail, API keys and webhooks."""

import hashlib
import re
from datetime import timedelta

import pytest
import time_machine
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.html import escape

from audit.models import AuditEvent
from consent import services
from consent.models import (
    ApiKey,
    Artifact,
    Consent,
    ConsentRequest,
    Notification,
    RequestItem,
    Sample,
    WebhookEndpoint,
    WebhookEvent,
)
from consent.services import api_key_hash
from identity.crypto import mask_phone
from identity.models import Membership, OutboxMessage
from tests.conftest import office_login
from tests.consent.conftest import (
    PERSON_ID,
    PERSON_NAME,
    PERSON_PHONE,
    last_code,
    png_bytes,
    portal_sign_in,
    request_input,
    wav_bytes,
)

pytestmark = pytest.mark.django_db

OTHER_PHONE = "+8613700001111"


def form_data(**overrides) -> dict:
    """What an operator types into the new-request form: a face item with a PNG and a voice item with a WAV."""
    today = timezone.localdate()
    data = {
        "phone": PERSON_PHONE,
        "email": "pat@example.test",
        "language": "zh-hans",
        "expires_in_days": "7",
        "end_user_reference": "user-4711",
        "end_user_verification_method": "mobile",
        "end_user_verification_reference": "sms-check-99",
        "end_user_verified_at": (timezone.localtime() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
        "end_user_prompted_to_notify": "on",
        "retention_days": "30",
        "notice_retention": "Outputs are deleted after the campaign.",
        "notice_withdrawal": "Withdraw at any time in the portal; effective at once.",
        "notice_recipients": "",
        "items-TOTAL_FORMS": "2",
        "items-INITIAL_FORMS": "0",
        "items-MIN_NUM_FORMS": "1",
        "items-MAX_NUM_FORMS": "2",
        "items-0-modality": "face",
        "items-0-operations": ["face_swap", "attribute_editing"],
        "items-0-purpose": "Film dubbing trailer",
        "items-0-usage": "Douyin channel",
        "items-0-valid_until": (today + timedelta(days=90)).isoformat(),
        "items-0-samples": SimpleUploadedFile("face.png", png_bytes(), content_type="image/png"),
        "items-1-modality": "voice",
        "items-1-operations": ["voice_cloning"],
        "items-1-purpose": "Narration",
        "items-1-usage": "Podcast",
        "items-1-valid_until": (today + timedelta(days=60)).isoformat(),
        "items-1-samples": SimpleUploadedFile("voice.wav", wav_bytes(), content_type="audio/wav"),
    }
    data.update(overrides)
    return data


def blank_second_item(data: dict) -> dict:
    for name in ("modality", "purpose", "usage", "valid_until"):
        data[f"items-1-{name}"] = ""
    del data["items-1-operations"], data["items-1-samples"]
    return data


@pytest.fixture
def person_browser(pending_request):
    client = Client()
    person = portal_sign_in(client)
    response = client.post("/identity/", {"legal_name": PERSON_NAME, "id_number": PERSON_ID})
    assert response.status_code == 302, response.content
    assert client.get(f"/r/{pending_request.code}/").status_code == 200
    client.person = person
    return client


@pytest.fixture
def granted_consent(pending_request, person_browser):
    face = pending_request.items.get(position=1)
    person_browser.post(f"/r/{pending_request.code}/items/{face.pk}/code/")
    response = person_browser.post(f"/r/{pending_request.code}/items/{face.pk}/grant/", {"code": last_code()})
    assert response.status_code == 302, response.content
    return Consent.objects.get(item=face)


@pytest.fixture
def viewer_client(organization):
    from identity.services import membership_set, operator_create
    from tests.conftest import OPERATOR_PASSWORD

    user = operator_create(actor="test", username="vera", password=OPERATOR_PASSWORD)
    membership_set(actor="test", user=user, organization=organization, role=Membership.Role.VIEWER)
    return office_login(Client(), user)


@pytest.fixture
def owner_client(operator_client, operator, organization):
    """The operator persona as an owner: API keys and the webhook endpoint are the owners' to manage."""
    from identity.services import membership_set

    membership_set(actor="test", user=operator, organization=organization, role=Membership.Role.OWNER)
    return operator_client


@pytest.fixture
def api_key(organization, operator):
    key, _plaintext = services.api_key_create(
        actor=operator, organization=organization, name="render farm", scopes=["tokens:verify", "consents:read"]
    )
    return key


# ---- new request ------------------------------------------------------------------------------


def test_operator_creates_a_two_item_request_with_png_and_wav_samples(operator_client, organization, operator):
    response = operator_client.post("/office/requests/new/", form_data())
    consent_request = ConsentRequest.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/office/requests/{consent_request.pk}/"
    assert consent_request.organization == organization
    assert consent_request.created_by_user == operator
    assert consent_request.person_phone == PERSON_PHONE
    assert consent_request.person_email == "pat@example.test"
    assert consent_request.end_user_prompted_to_notify is True
    face, voice = consent_request.items.order_by("position")
    assert (face.modality, face.operations) == ("face", ["attribute_editing", "face_swap"])
    assert (voice.modality, voice.operations) == ("voice", ["voice_cloning"])
    assert Sample.objects.get(item=face).sha256 == hashlib.sha256(png_bytes()).hexdigest()
    assert Sample.objects.get(item=voice).content_type == "audio/wav"
    assert Sample.objects.get(item=voice).original_name == "voice.wav"
    sms = OutboxMessage.objects.get(channel="sms", to=mask_phone(PERSON_PHONE))
    assert f"/r/{consent_request.code}" in sms.body
    assert AuditEvent.objects.filter(action="request.create", data__organization=organization.pk).exists()
    page = operator_client.get(response["Location"])
    assert "Film dubbing trailer" in page.content.decode()


def test_a_blank_second_item_is_ignored(operator_client):
    response = operator_client.post("/office/requests/new/", blank_second_item(form_data()))
    assert response.status_code == 302
    assert list(RequestItem.objects.values_list("modality", flat=True)) == ["face"]


def test_the_form_offers_two_items_and_ticks_nothing(operator_client):
    body = operator_client.get("/office/requests/new/").content.decode()
    assert 'name="items-TOTAL_FORMS" value="2"' in body
    assert 'name="items-1-operations"' in body
    assert "checked" not in body
    assert 'type="datetime-local"' in body


def test_bad_input_keeps_what_was_typed_and_shows_errors_where_they_belong(operator_client):
    data = form_data(phone="12345", **{"items-1-operations": ["face_swap"]})
    del data["end_user_prompted_to_notify"]
    response = operator_client.post("/office/requests/new/", data)
    assert response.status_code == 200
    assert not ConsentRequest.objects.exists()
    form, items = response.context["form"], response.context["items"]
    assert "phone" in form.errors
    assert "prompted to inform" in form.errors["end_user_prompted_to_notify"][0]
    assert "face_swap is not a voice operation" in items.forms[1].errors["operations"][0]
    assert "operations" not in items.forms[0].errors
    body = response.content.decode()
    assert 'value="12345"' in body  # what was typed is still there
    assert 'value="user-4711"' in body
    assert "Film dubbing trailer" in body
    assert re.search(r'value="face_swap"[^>]*id="id_items-1-operations_1"[^>]*checked', body)
    assert "kept: face.png" in body and "kept: voice.wav" in body  # the samples survive the error


def test_a_sample_of_the_wrong_kind_is_an_error_on_that_items_samples(operator_client):
    wrong = SimpleUploadedFile("voice.wav", wav_bytes(), content_type="audio/wav")
    response = operator_client.post("/office/requests/new/", form_data(**{"items-0-samples": wrong}))
    assert not ConsentRequest.objects.exists()
    assert "needs the other kind" in response.context["items"].forms[0].errors["samples"][0]


def test_an_item_without_a_sample_is_refused_by_the_form(operator_client):
    data = form_data()
    del data["items-0-samples"]
    response = operator_client.post("/office/requests/new/", data)
    assert response.status_code == 200
    assert "samples" in response.context["items"].forms[0].errors
    assert not ConsentRequest.objects.exists()


def test_a_cooling_down_refusal_is_shown_as_a_form_error(operator_client, pending_request, person_browser):
    voice = pending_request.items.get(modality="voice")
    person_browser.post(f"/r/{pending_request.code}/items/{voice.pk}/deny/", {"reason": "no"})
    assert RequestItem.objects.get(pk=voice.pk).state == RequestItem.State.DENIED
    response = operator_client.post("/office/requests/new/", form_data())
    assert response.status_code == 200
    errors = response.context["form"].non_field_errors()
    assert "refused a voice request" in errors[0]
    assert ConsentRequest.objects.count() == 1
    assert "refused a voice request" in response.content.decode()


def test_a_person_who_blocked_the_organisation_cannot_be_asked(
    operator_client, organization, pending_request, person_browser
):
    services.organization_block(person=person_browser.person, organization_id=organization.pk)
    response = operator_client.post("/office/requests/new/", form_data())
    assert "has blocked requests from your organisation" in response.context["form"].non_field_errors()[0]
    assert ConsentRequest.objects.count() == 1


# ---- request list and detail --------------------------------------------------------------------


def test_request_list_filters_by_state_phone_and_modality(operator_client, organization, operator):
    face_only = services.request_create(
        actor=operator,
        organization=organization,
        data=request_input(phone=OTHER_PHONE, items=request_input().items[:1]),
    )
    both = services.request_create(actor=operator, organization=organization, data=request_input())
    services.request_cancel(actor=operator, organization=both.organization, request_id=both.pk)

    def listed(query):
        return [r.pk for r in operator_client.get(f"/office/requests/?{query}").context["page"]]

    assert listed("") == [both.pk, face_only.pk]
    assert listed("state=pending") == [face_only.pk]
    assert listed("state=cancelled") == [both.pk]
    phone = operator_client.post("/office/requests/", {"phone": "0000111"})  # a person's: posted, kept off the URL
    assert [r.pk for r in operator_client.get(phone["Location"]).context["page"]] == [face_only.pk]
    assert listed("modality=voice") == [both.pk]
    assert listed("modality=face&state=pending") == [face_only.pk]
    assert listed("state=nonsense") == [both.pk, face_only.pk]  # an invalid filter is ignored


def test_request_list_pages_by_fifty(operator_client, pending_request):
    response = operator_client.get("/office/requests/?page=2")
    assert response.status_code == 200
    assert response.context["page"].paginator.per_page == 50


def test_request_list_makes_a_fixed_number_of_queries(
    operator_client, organization, operator, django_assert_max_num_queries
):
    for i in range(6):
        services.request_create(
            actor=operator, organization=organization, data=request_input(phone=f"+861370000{i:04d}")
        )
    with django_assert_max_num_queries(12):
        response = operator_client.get("/office/requests/")
    assert len(response.context["page"]) == 6
    assert response.content.decode().count("state-pending") >= 18  # 6 requests, 2 items each


def test_request_detail_shows_items_samples_and_every_notification_attempt(operator_client, pending_request):
    body = operator_client.get(f"/office/requests/{pending_request.pk}/").content.decode()
    face = pending_request.items.get(modality="face")
    assert face.samples.get().sha256 in body
    assert "face.png" in body and "voice.wav" in body
    assert "Film dubbing trailer" in body and "Podcast" in body
    attempt = Notification.objects.get(request=pending_request).attempts.get()
    assert attempt.channel == "sms" and attempt.ok
    assert attempt.reference in body
    assert "Send again" in body and "Cancel request" in body


def test_request_detail_names_the_e_mail_channel_as_the_portal_does_in_chinese(operator_client, operator, organization):
    """The attempts list names the way a message went: 电子邮件 (e-mail), not 电子邮箱 (an e-mail address)."""
    from consent.builders import build_request

    request = build_request(actor=operator, organization=organization, phone=PERSON_PHONE, email="pat@example.org")
    attempts = Notification.objects.get(request=request).attempts.all()
    assert sorted(a.channel for a in attempts) == ["email", "sms"] and all(a.ok for a in attempts)

    body = operator_client.get(f"/office/requests/{request.pk}/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    listed = re.search(r'<ul class="attempts">(.*?)</ul>', body, re.S).group(1)
    assert "· 电子邮件 ·" in listed and "· 短信 ·" in listed
    assert "电子邮箱" not in listed
    english = operator_client.get(f"/office/requests/{request.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "· e-mail ·" in re.search(r'<ul class="attempts">(.*?)</ul>', english, re.S).group(1)


def test_request_detail_links_a_granted_item_to_its_consent(operator_client, granted_consent):
    body = operator_client.get(f"/office/requests/{granted_consent.item.request_id}/").content.decode()
    assert f'href="/office/consents/{granted_consent.pk}/"' in body


def test_send_again_is_refused_within_ten_minutes_then_allowed(operator_client, pending_request):
    url = f"/office/requests/{pending_request.pk}/resend/"
    response = operator_client.post(url, follow=True)
    assert "You can send it again after" in response.content.decode()
    assert pending_request.notifications.count() == 1
    with time_machine.travel(timezone.now() + timedelta(minutes=11)):
        response = operator_client.post(url)
    assert response["Location"] == f"/office/requests/{pending_request.pk}/"
    assert pending_request.notifications.count() == 2
    assert OutboxMessage.objects.filter(channel="sms", to=mask_phone(PERSON_PHONE)).count() == 2
    assert AuditEvent.objects.filter(action="request.resend").count() == 1


def test_cancel_needs_the_confirmation_box(operator_client, pending_request):
    response = operator_client.post(f"/office/requests/{pending_request.pk}/cancel/", {})
    assert response.status_code == 400
    assert "confirm" in response.context["cancel_form"].errors
    pending_request.refresh_from_db()
    assert pending_request.state == ConsentRequest.State.PENDING


def test_cancel_closes_the_request_and_its_undecided_items(operator_client, pending_request):
    response = operator_client.post(f"/office/requests/{pending_request.pk}/cancel/", {"confirm": "on"}, follow=True)
    pending_request.refresh_from_db()
    assert pending_request.state == ConsentRequest.State.CANCELLED
    assert set(pending_request.items.values_list("state", flat=True)) == {RequestItem.State.CANCELLED}
    body = response.content.decode()
    assert "Cancel request" not in body and "Send again" not in body
    again = operator_client.post(f"/office/requests/{pending_request.pk}/cancel/", {"confirm": "on"}, follow=True)
    assert "no longer open" in again.content.decode()


# ---- roles and outsiders ----------------------------------------------------------------------


def test_viewer_reads_but_cannot_create_resend_or_cancel(viewer_client, pending_request):
    listing = viewer_client.get("/office/requests/")
    assert listing.status_code == 200
    assert "/office/requests/new/" not in listing.content.decode()
    assert viewer_client.get("/office/requests/new/").status_code == 403
    assert viewer_client.post("/office/requests/new/", form_data()).status_code == 403
    detail = viewer_client.get(f"/office/requests/{pending_request.pk}/")
    assert "Send again" not in detail.content.decode()
    assert viewer_client.post(f"/office/requests/{pending_request.pk}/resend/").status_code == 403
    assert viewer_client.post(f"/office/requests/{pending_request.pk}/cancel/", {"confirm": "on"}).status_code == 403
    assert viewer_client.get("/office/keys/").status_code == 403
    assert viewer_client.post("/office/keys/new/", {"name": "x", "scopes": ["tokens:verify"]}).status_code == 403
    assert ConsentRequest.objects.count() == 1
    assert pending_request.notifications.count() == 1
    assert not ApiKey.objects.exists()


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", "/office/requests/{request}/"),
        ("post", "/office/requests/{request}/resend/"),
        ("post", "/office/requests/{request}/cancel/"),
        ("get", "/office/consents/{consent}/"),
        ("post", "/office/keys/{key}/revoke/"),
        ("post", "/office/keys/{key}/rotate/"),
        ("post", "/office/webhooks/events/{event}/resend/"),
    ],
)
def test_operator_of_another_organisation_gets_404(
    other_operator_client, other_operator, other_organization, granted_consent, api_key, method, url
):
    from identity.services import membership_set

    # An owner there: an operator would be refused before the look-up (403, which confirms nothing either).
    membership_set(actor="test", user=other_operator, organization=other_organization, role=Membership.Role.OWNER)
    event = WebhookEvent.objects.filter(organization=granted_consent.organization).first()
    target = url.format(
        request=granted_consent.item.request_id, consent=granted_consent.pk, key=api_key.pk, event=event.pk
    )
    response = getattr(other_operator_client, method)(target, {"confirm": "on"})
    assert response.status_code == 404
    request = ConsentRequest.objects.get(pk=granted_consent.item.request_id)
    assert request.notifications.count() == 1
    assert ApiKey.objects.get(pk=api_key.pk).revoked_at is None


def test_lists_of_another_organisation_show_nothing_of_ours(other_operator_client, other_organization, granted_consent):
    assert list(other_operator_client.get("/office/requests/").context["page"]) == []
    assert list(other_operator_client.get("/office/consents/").context["page"]) == []
    assert list(other_operator_client.get("/office/webhooks/").context["page"]) == []
    audit_events = other_operator_client.get("/office/audit/").context["page"]
    assert {event.organization_id for event in audit_events} == {other_organization.pk}


def test_asking_for_an_organisation_one_does_not_belong_to_is_404(operator_client, other_organization):
    assert operator_client.get(f"/office/requests/?org={other_organization.pk}").status_code == 404
    assert operator_client.get("/office/requests/?org=abc").status_code == 404


def test_member_of_two_organisations_chooses_one_and_it_is_remembered(
    operator_client, operator, organization, other_organization, pending_request
):
    from identity.services import membership_set

    membership_set(actor="test", user=operator, organization=other_organization, role=Membership.Role.VIEWER)
    mine = operator_client.get(f"/office/requests/?org={organization.pk}")
    assert [r.pk for r in mine.context["page"]] == [pending_request.pk]
    assert operator_client.get(f"/office/requests/{pending_request.pk}/").status_code == 200
    other = operator_client.get(f"/office/requests/?org={other_organization.pk}")
    assert other.context["organization"] == other_organization
    assert list(other.context["page"]) == []
    assert 'name="org"' in other.content.decode()  # the switcher
    assert operator_client.get("/office/requests/").context["organization"] == other_organization
    assert operator_client.get(f"/office/requests/{pending_request.pk}/").status_code == 404
    assert operator_client.get("/office/requests/new/").status_code == 403  # a viewer there


def test_anonymous_visitor_is_sent_to_sign_in(client, pending_request):
    for url in ("/office/requests/", f"/office/requests/{pending_request.pk}/", "/office/keys/", "/office/audit/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/office/login/")


# ---- consents -------------------------------------------------------------------------------


def test_consent_list_filters_by_state(operator_client, granted_consent):
    assert [c.pk for c in operator_client.get("/office/consents/").context["page"]] == [granted_consent.pk]
    assert [c.pk for c in operator_client.get("/office/consents/?state=active").context["page"]] == [granted_consent.pk]
    assert list(operator_client.get("/office/consents/?state=revoked").context["page"]) == []


def test_consent_detail_shows_terms_and_masked_identity_only(operator_client, granted_consent):
    body = operator_client.get(f"/office/consents/{granted_consent.pk}/").content.decode()
    person = granted_consent.person
    assert person.legal_name_masked in body and person.id_number_masked in body
    assert PERSON_ID not in body
    assert granted_consent.terms_sha256 in body
    assert escape(granted_consent.terms_json) in body  # the exact canonical JSON, as hashed
    assert "No service has presented this consent yet." in body


def test_consent_detail_links_the_signed_record_once_it_exists(operator_client, granted_consent, queued_pdfs):
    assert queued_pdfs == [(granted_consent.pk, "grant")]
    link = f'href="/office/consents/{granted_consent.pk}/artifacts/grant.pdf"'
    assert link not in operator_client.get(f"/office/consents/{granted_consent.pk}/").content.decode()
    # Rendering belongs to the artifacts service (tests/consent/test_artifacts.py); a stored record is all
    # this page looks at.
    artifact = Artifact(consent=granted_consent, kind=Artifact.Kind.GRANT, sha256="0" * 64, size=3)
    artifact.file.save("grant.pdf", ContentFile(b"pdf"), save=False)
    artifact.save()
    assert link in operator_client.get(f"/office/consents/{granted_consent.pk}/").content.decode()


# ---- audit trail -------------------------------------------------------------------------------


def test_audit_page_shows_only_events_of_the_own_organisation(
    operator_client, organization, other_organization, operator, other_operator, pending_request
):
    other = services.request_create(actor=other_operator, organization=other_organization, data=request_input())
    events = list(operator_client.get("/office/audit/").context["page"])
    assert events
    assert all(event.organization_id == organization.pk for event in events)
    assert [e.seq for e in events] == sorted((e.seq for e in events), reverse=True)
    assert str(pending_request.pk) in {e.target_id for e in events if e.action == "request.create"}
    assert not any(e.action == "request.create" and e.target_id == str(other.pk) for e in events)


def test_audit_page_pages_by_fifty_newest_first(operator_client, organization, operator):
    for i in range(55):
        services.api_key_create(actor=operator, organization=organization, name=f"key {i}", scopes=["tokens:verify"])
    first = operator_client.get("/office/audit/")
    assert len(first.context["page"]) == 50
    assert 'href="?page=2"' in first.content.decode()
    second = operator_client.get("/office/audit/?page=2")
    assert second.context["page"].number == 2
    assert max(e.seq for e in second.context["page"]) < min(e.seq for e in first.context["page"])


# ---- API keys -----------------------------------------------------------------------------------


def test_api_key_is_shown_once_and_stored_only_as_a_hash(owner_client, organization):
    response = owner_client.post("/office/keys/new/", {"name": "render farm", "scopes": ["tokens:verify"]})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    plaintext = response.context["plaintext"]
    key = ApiKey.objects.get()
    prefix, secret = plaintext.split(".", 1)
    assert plaintext in response.content.decode()
    assert (key.organization, key.prefix, key.scopes) == (organization, prefix, ["tokens:verify"])
    assert key.secret_hash == api_key_hash(secret) and secret not in key.secret_hash
    listing = owner_client.get("/office/keys/").content.decode()
    assert key.prefix in listing and plaintext not in listing


def test_api_key_needs_a_name_and_a_scope(owner_client):
    response = owner_client.post("/office/keys/new/", {"name": ""})
    assert response.status_code == 400
    assert set(response.context["form"].errors) == {"name", "scopes"}
    assert not ApiKey.objects.exists()


def test_revoking_a_key_is_audited_once_and_idempotent(owner_client, api_key):
    response = owner_client.post(f"/office/keys/{api_key.pk}/revoke/")
    assert response["Location"] == "/office/keys/"
    api_key.refresh_from_db()
    revoked_at = api_key.revoked_at
    assert revoked_at is not None
    owner_client.post(f"/office/keys/{api_key.pk}/revoke/")
    api_key.refresh_from_db()
    assert api_key.revoked_at == revoked_at
    assert AuditEvent.objects.filter(action="api_key.revoke", target_id=str(api_key.pk)).count() == 1


def test_rotating_a_key_revokes_it_and_issues_one_with_the_same_name_and_scopes(owner_client, api_key):
    response = owner_client.post(f"/office/keys/{api_key.pk}/rotate/")
    assert response.status_code == 200
    api_key.refresh_from_db()
    assert api_key.revoked_at is not None
    new = ApiKey.objects.get(revoked_at__isnull=True)
    assert (new.name, new.scopes) == (api_key.name, api_key.scopes)
    prefix, secret = response.context["plaintext"].split(".", 1)
    assert new.prefix == prefix and new.secret_hash == api_key_hash(secret)
    assert AuditEvent.objects.filter(action="api_key.rotate", target_id=str(api_key.pk)).exists()
    again = owner_client.post(f"/office/keys/{api_key.pk}/rotate/", follow=True)
    assert "This key is revoked" in again.content.decode()
    assert ApiKey.objects.count() == 2


# ---- webhooks ----------------------------------------------------------------------------------


def test_webhook_endpoint_shows_the_secret_once_and_can_be_removed(owner_client, organization):
    response = owner_client.post("/office/webhooks/", {"url": "https://hooks.example.com/consent"})
    assert response.status_code == 200
    secret = response.context["secret"]
    assert secret.startswith("whsec_") and secret in response.content.decode()
    assert WebhookEndpoint.objects.get(organization=organization).url == "https://hooks.example.com/consent"
    assert secret not in owner_client.get("/office/webhooks/").content.decode()
    changed = owner_client.post("/office/webhooks/", {"url": "https://hooks.example.com/v2"})
    assert changed["Location"] == "/office/webhooks/"  # no new secret unless asked
    assert owner_client.post("/office/webhooks/delete/", {}).status_code == 400
    owner_client.post("/office/webhooks/delete/", {"confirm": "on"})
    assert not WebhookEndpoint.objects.exists()


def test_webhook_url_refusals_are_shown_on_the_url_field(owner_client, settings):
    settings.DEBUG = False
    response = owner_client.post("/office/webhooks/", {"url": "https://127.0.0.1/hook"})
    assert response.status_code == 400
    assert "public address" in response.context["form"].errors["url"][0]
    assert not WebhookEndpoint.objects.exists()


def test_webhook_log_lists_events_and_sends_one_again(operator_client, granted_consent):
    event = WebhookEvent.objects.get(organization=granted_consent.organization, type="consent.granted")
    body = operator_client.get("/office/webhooks/").content.decode()
    assert event.event_id in body
    response = operator_client.post(f"/office/webhooks/events/{event.pk}/resend/")
    assert response["Location"] == "/office/webhooks/"
    assert AuditEvent.objects.filter(action="webhook_event.resend", target_id=str(event.pk)).count() == 1


def test_viewer_sees_the_webhook_log_but_cannot_change_anything(viewer_client, granted_consent):
    event = WebhookEvent.objects.get(type="consent.granted")
    page = viewer_client.get("/office/webhooks/")
    assert page.status_code == 200 and event.event_id in page.content.decode()
    assert 'name="url"' not in page.content.decode()
    assert viewer_client.post("/office/webhooks/", {"url": "https://hooks.example.com/x"}).status_code == 403
    assert viewer_client.post(f"/office/webhooks/events/{event.pk}/resend/").status_code == 403
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize("action", ["cancel", "resend"])
def test_cancel_and_send_again_read_the_request_once(operator_client, pending_request, action):
    """The service's scoped, locked look-up is the access check: no second read with every prefetch."""
    with CaptureQueriesContext(connection) as queries:
        response = operator_client.post(f"/office/requests/{pending_request.pk}/{action}/", {"confirm": "on"})
    assert response.status_code == 302
    sql = [query["sql"] for query in queries.captured_queries]
    assert len([q for q in sql if q.startswith("SELECT") and 'FROM "consent_consentrequest"' in q]) == 1
    assert not [q for q in sql if 'FROM "consent_notificationattempt"' in q]
