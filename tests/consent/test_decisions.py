"""Separate consent rules, the grant code's binding to the terms, refusals, revocation and expiry."""

import threading
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from audit.models import AuditEvent
from consent import services
from consent.builders import build_verified_person
from consent.errors import ConsentNotActive, CoolingDown, NotPending, PersonBlockedOrganization, RequestExpired
from consent.models import Consent, ConsentRequest, RequestItem, WebhookEvent
from consent.services import consent_grant
from identity.errors import CodeRejected
from tests.consent.conftest import (
    PERSON_ID,
    PERSON_NAME,
    PERSON_PHONE,
    last_code,
    last_sms,
    portal_sign_in,
    request_input,
)

pytestmark = pytest.mark.django_db


def verified_person(phone=PERSON_PHONE, id_number=PERSON_ID):
    return build_verified_person(phone=phone, legal_name=PERSON_NAME, id_number=id_number)


def opened(pending_request, person=None):
    person = person or verified_person()
    services.request_open(person=person, code=pending_request.code)
    face, voice = pending_request.items.order_by("position")
    return person, face, voice


def test_request_page_has_no_preselection_no_accept_all_and_no_other_terms(person_client, pending_request):
    html = person_client.get(f"/r/{pending_request.code}/").content.decode()
    assert "checked" not in html
    assert html.count("Agree to this item") == 2 and html.count("Refuse this item") == 2
    # one of each per item: each item is decided on its own
    assert "accept all" not in html.lower() and "grant all" not in html.lower()
    assert "terms of service" not in html.lower()
    assert pending_request.notice_retention in html and pending_request.notice_withdrawal in html
    assert "Your samples are erased 30 days after the consent ends" in html  # from the number, in words


def test_grant_code_sms_carries_the_digest_of_exactly_these_terms(person_client, pending_request):
    face = pending_request.items.get(position=1)
    person_client.get(f"/r/{pending_request.code}/")
    person_client.post(f"/r/{pending_request.code}/items/{face.pk}/code/")
    assert f"#{face.terms_sha256[:8]}" in last_sms()


def test_a_code_issued_for_one_item_cannot_grant_another(person_client, pending_request):
    face, voice = pending_request.items.order_by("position")
    person_client.get(f"/r/{pending_request.code}/")
    person_client.post(f"/r/{pending_request.code}/items/{face.pk}/code/")
    code = last_code()
    response = person_client.post(f"/r/{pending_request.code}/items/{voice.pk}/grant/", {"code": code})
    assert response.status_code == 200
    assert "issued for something else" in response.content.decode()
    assert Consent.objects.count() == 0
    voice.refresh_from_db()
    assert voice.state == RequestItem.State.PENDING


def test_a_sign_in_code_cannot_grant(pending_request):
    person, face, _voice = opened(pending_request)
    from identity.services import sms_code_send

    with time_machine.travel(timezone.now() + timedelta(minutes=2)):
        sms_code_send(person=person, ip=None)  # a sign-in code, not bound to terms
        with pytest.raises(CodeRejected, match="issued for something else"):
            services.item_grant(person=person, item_id=face.pk, code=last_code())
    assert Consent.objects.count() == 0


def test_each_item_is_decided_on_its_own(pending_request):
    person, face, voice = opened(pending_request)
    consent = consent_grant(actor=person, item_id=face.pk)
    voice.refresh_from_db()
    assert voice.state == RequestItem.State.PENDING
    assert consent.item_id == face.pk and consent.modality == "face"
    assert pending_request.__class__.objects.get(pk=pending_request.pk).state == ConsentRequest.State.PENDING


def test_deny_needs_no_code_and_is_recorded(pending_request):
    person, _face, voice = opened(pending_request)
    services.item_deny(person=person, item_id=voice.pk, reason="no")
    voice.refresh_from_db()
    assert voice.state == RequestItem.State.DENIED and voice.decided_at
    assert AuditEvent.objects.filter(action="item.deny", target_id=str(voice.pk)).exists()
    assert WebhookEvent.objects.filter(type="consent.denied").exists()


def test_a_decided_item_cannot_be_decided_again(pending_request):
    person, face, _voice = opened(pending_request)
    consent_grant(actor=person, item_id=face.pk)
    with pytest.raises(NotPending):
        services.item_deny(person=person, item_id=face.pk)
    with pytest.raises(NotPending):
        consent_grant(actor=person, item_id=face.pk)
    assert Consent.objects.count() == 1


def test_another_phone_cannot_open_the_link(client, pending_request):
    portal_sign_in(client, phone="+8613700000000")
    response = client.get(f"/r/{pending_request.code}/")
    assert response.status_code == 403
    assert "another mobile number" in response.content.decode()
    assert pending_request.__class__.objects.get(pk=pending_request.pk).person is None


def test_an_unknown_link_is_404(person_client):
    assert person_client.get("/r/not-a-real-code/").status_code == 404


def test_an_expired_request_cannot_be_decided(pending_request):
    person, face, voice = opened(pending_request)
    with time_machine.travel(pending_request.expires_at + timedelta(seconds=1)):
        with pytest.raises(RequestExpired):
            consent_grant(actor=person, item_id=face.pk)
        with pytest.raises(RequestExpired):
            services.item_deny(person=person, item_id=voice.pk)
    assert Consent.objects.count() == 0


def test_denial_starts_a_cool_down_for_that_modality(pending_request, organization, operator):
    person, _face, voice = opened(pending_request)
    services.item_deny(person=person, item_id=voice.pk)
    with pytest.raises(CoolingDown) as refused:
        services.request_create(actor=operator, organization=organization, data=request_input())
    assert "voice" in str(refused.value)
    face_only = request_input()
    face_only.items = face_only.items[:1]
    services.request_create(actor=operator, organization=organization, data=face_only)  # other modality is fine
    with time_machine.travel(timezone.now() + timedelta(days=31)):
        services.request_create(actor=operator, organization=organization, data=request_input(expires_in_days=3))


def test_cool_down_does_not_apply_to_other_organisations(pending_request, other_organization, other_operator):
    person, _face, voice = opened(pending_request)
    services.item_deny(person=person, item_id=voice.pk)
    services.request_create(actor=other_operator, organization=other_organization, data=request_input())


def test_a_blocked_organisation_cannot_send_requests(person_client, pending_request, organization, operator):
    person_client.get(f"/r/{pending_request.code}/")
    person_client.post(f"/me/organizations/{organization.pk}/block/")
    with pytest.raises(PersonBlockedOrganization):
        services.request_create(actor=operator, organization=organization, data=request_input())
    person_client.post(f"/me/organizations/{organization.pk}/unblock/")
    services.request_create(actor=operator, organization=organization, data=request_input(expires_in_days=2))


def test_revoke_needs_confirmation_and_is_effective_at_once(person_client, pending_request):
    person, face, _voice = opened(pending_request, person=person_client.person)
    consent = consent_grant(actor=person, item_id=face.pk)
    response = person_client.post(f"/me/consents/{consent.pk}/revoke/", {})
    assert "Tick the box" in response.content.decode()
    consent.refresh_from_db()
    assert consent.state == Consent.State.ACTIVE
    person_client.post(f"/me/consents/{consent.pk}/revoke/", {"confirm": "on", "reason": "changed my mind"})
    consent.refresh_from_db()
    assert consent.state == Consent.State.REVOKED and consent.revoke_reason == "changed my mind"
    assert consent.terms_json == face.terms_json  # decided terms are never edited
    with pytest.raises(ConsentNotActive):
        services.consent_revoke(person=person, consent_id=consent.pk)


def test_revoking_twice_or_denying_a_granted_item_says_why_and_changes_nothing(person_client, pending_request):
    person, face, _voice = opened(pending_request, person=person_client.person)
    consent = consent_grant(actor=person, item_id=face.pk)
    person_client.post(f"/me/consents/{consent.pk}/revoke/", {"confirm": "on", "reason": "first"}, follow=True)
    again = person_client.post(f"/me/consents/{consent.pk}/revoke/", {"confirm": "on", "reason": "second"}, follow=True)
    assert "This consent is already withdrawn." in again.content.decode()
    assert "Consent withdrawn." not in again.content.decode()
    consent.refresh_from_db()
    assert consent.revoke_reason == "first"
    code = pending_request.code
    denied = person_client.post(f"/r/{code}/items/{face.pk}/deny/", {"reason": "no"}, follow=True)
    assert "This has already been decided or is no longer open" in denied.content.decode()
    face.refresh_from_db()
    assert face.state == RequestItem.State.GRANTED


def test_another_person_cannot_see_or_revoke_my_consent(pending_request, client_factory):
    person, face, _voice = opened(pending_request)
    consent = consent_grant(actor=person, item_id=face.pk)
    stranger = client_factory()
    portal_sign_in(stranger, phone="+8613700000000")
    stranger.post("/identity/", {"legal_name": "王五", "id_number": "440524198001010013"})
    assert stranger.get(f"/me/consents/{consent.pk}/").status_code == 404
    assert stranger.post(f"/me/consents/{consent.pk}/revoke/", {"confirm": "on"}).status_code == 404
    consent.refresh_from_db()
    assert consent.state == Consent.State.ACTIVE


def test_expiry_moves_old_consents_and_stale_requests_and_is_idempotent(pending_request, organization, operator):
    person, face, _voice = opened(pending_request)
    consent = consent_grant(actor=person, item_id=face.pk)
    other = services.request_create(
        actor=operator, organization=organization, data=request_input(phone="+8613700000001")
    )
    later = consent.valid_until + timedelta(seconds=1)
    assert services.consents_expire(now=later) == (1, 2)
    assert services.consents_expire(now=later) == (0, 0)
    consent.refresh_from_db()
    other.refresh_from_db()
    assert consent.state == Consent.State.EXPIRED
    assert other.state == ConsentRequest.State.EXPIRED
    assert set(other.items.values_list("state", flat=True)) == {"expired"}
    assert AuditEvent.objects.filter(action="consent.expire").count() == 1
    assert AuditEvent.objects.filter(action="request.expire").count() == 2
    assert {"consent.expired", "request.expired"} <= set(WebhookEvent.objects.values_list("type", flat=True))


def test_person_under_14_is_decided_for_by_a_verified_guardian(client, organization, operator):
    from tests.identity.test_people import id_with_birth

    request = services.request_create(actor=operator, organization=organization, data=request_input())
    portal_sign_in(client)
    client.post("/identity/", {"legal_name": "李小明", "id_number": id_with_birth("20150601")})
    summary = client.get(f"/r/{request.code}/")  # the summary first, then the guardian's real-name step
    assert 'href="/identity/guardian/?next=' in summary.content.decode()
    client.post("/identity/guardian/", {"legal_name": "李大明", "id_number": PERSON_ID, "relationship": "parent"})
    assert client.get(f"/r/{request.code}/").status_code == 200
    face = request.items.get(position=1)
    client.post(f"/r/{request.code}/items/{face.pk}/code/")
    client.post(f"/r/{request.code}/items/{face.pk}/grant/", {"code": last_code()})
    consent = Consent.objects.get()
    assert consent.guardian is not None
    assert consent.evidence["guardian"]["relationship"] == "parent"
    assert consent.evidence["person"]["outcome"] == "matched"


@pytest.mark.realstack
def test_double_submit_of_a_grant_gives_one_consent(transactional_db, organization, operator):
    request = services.request_create(actor=operator, organization=organization, data=request_input())
    person, face, _voice = opened(request)
    outcomes = []

    def grant():
        try:
            consent_grant(actor=person, item_id=face.pk)
            outcomes.append("granted")
        except NotPending:
            outcomes.append("not_pending")
        finally:
            connection.close()

    threads = [threading.Thread(target=grant) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["granted", "not_pending", "not_pending", "not_pending"]
    assert Consent.objects.count() == 1


@pytest.mark.realstack
@pytest.mark.parametrize("round_", range(5))
def test_a_decision_racing_expiry_has_exactly_one_outcome(transactional_db, organization, operator, round_):
    request = services.request_create(actor=operator, organization=organization, data=request_input())
    person, face, _voice = opened(request)
    at = request.expires_at - timedelta(milliseconds=1)
    outcomes = []

    def decide():
        try:
            services.item_deny(person=person, item_id=face.pk)
            outcomes.append("denied")
        except (RequestExpired, NotPending):
            outcomes.append("refused")
        finally:
            connection.close()

    def expire():
        try:
            services.consents_expire(now=at + timedelta(milliseconds=2))
        finally:
            connection.close()

    threads = [threading.Thread(target=decide), threading.Thread(target=expire)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    face.refresh_from_db()
    assert len(outcomes) == 1, "the decision neither succeeded nor was refused (deadlock?)"
    assert face.state in (RequestItem.State.DENIED, RequestItem.State.EXPIRED)
    assert (face.state == RequestItem.State.DENIED) == (outcomes == ["denied"])
