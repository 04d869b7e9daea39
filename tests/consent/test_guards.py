"""Guards that hold at the service level, so that removing one fails here even while a view's selector
still protects the page: each service acting for a person refuses another person's object, each service
acting for an organisation refuses another organisation's, and a revocation flips its status-list bit in
its own transaction (or not at all)."""

import io
import json
import zipfile
from datetime import timedelta

import pytest
import time_machine
from django.db import transaction
from django.utils import timezone

from audit.models import AuditEvent
from consent import services, statuslist
from consent.builders import build_verified_person
from consent.errors import NotForThisPerson
from consent.models import (
    ApiKey,
    Block,
    Consent,
    ConsentRequest,
    ConsentToken,
    Notification,
    RequestItem,
    Sample,
    StatusList,
    WebhookEndpoint,
    WebhookEvent,
)
from tests.consent.conftest import PERSON_ID, PERSON_NAME, PERSON_PHONE, request_input

pytestmark = pytest.mark.django_db

QUINN_PHONE = "+8613700001111"
QUINN_ID = "110101199003070011"  # GB 11643, check character included


def verified(phone, id_number, name=PERSON_NAME):
    return build_verified_person(phone=phone, legal_name=name, id_number=id_number)


@pytest.fixture
def pat(db):
    return verified(PERSON_PHONE, PERSON_ID)


@pytest.fixture
def quinn(db):
    return verified(QUINN_PHONE, QUINN_ID, name="李四")


@pytest.fixture
def pats_request(pat, pending_request):
    services.request_open(person=pat, code=pending_request.code)
    return pending_request


@pytest.fixture
def quinns_request(quinn, organization, operator):
    request = services.request_create(actor=operator, organization=organization, data=request_input(phone=QUINN_PHONE))
    services.request_open(person=quinn, code=request.code)
    return request


@pytest.fixture
def quinns_consent(quinn, quinns_request):
    return services.consent_grant(actor=quinn, item_id=quinns_request.items.get(position=1).pk)


@pytest.fixture
def pats_consent(pat, pats_request):
    return services.consent_grant(actor=pat, item_id=pats_request.items.get(position=1).pk)


def bit(consent: Consent) -> int:
    token = ConsentToken.objects.get(consent=consent)
    return statuslist.bit_get(StatusList.objects.get(pk=token.status_list_id).bits, token.status_index)


# ---- services acting for a person ---------------------------------------------------------------


def test_opening_refuses_a_request_sent_to_another_phone(pat, organization, operator):
    pats_own = services.request_create(actor=operator, organization=organization, data=request_input())
    fresh = services.request_create(actor=operator, organization=organization, data=request_input(phone=QUINN_PHONE))
    with pytest.raises(NotForThisPerson):
        services.request_open(person=pat, code=fresh.code)
    fresh.refresh_from_db()
    assert fresh.person_id is None
    assert services.request_open(person=pat, code=pats_own.code).person_id == pat.pk


def test_grant_refuses_another_persons_item_as_if_it_did_not_exist(pat, quinns_request):
    item = quinns_request.items.get(position=1)
    with pytest.raises(RequestItem.DoesNotExist):
        services.consent_grant(actor=pat, item_id=item.pk)
    item.refresh_from_db()
    assert item.state == RequestItem.State.PENDING
    assert not Consent.objects.exists()


def test_signed_grant_refuses_another_persons_item_before_looking_at_the_code(pat, quinns_request):
    # Not a code error: a foreign item must look missing, whatever code comes with it.
    with pytest.raises(RequestItem.DoesNotExist):
        services.item_grant(person=pat, item_id=quinns_request.items.get(position=1).pk, code="000000")


def test_grant_code_is_not_sent_for_another_persons_item(pat, quinns_request):
    with pytest.raises(RequestItem.DoesNotExist):
        services.item_grant_code_send(person=pat, item_id=quinns_request.items.get(position=1).pk, ip=None)


def test_deny_refuses_another_persons_item(pat, quinns_request):
    item = quinns_request.items.get(position=2)
    with pytest.raises(RequestItem.DoesNotExist):
        services.item_deny(person=pat, item_id=item.pk, reason="not mine to refuse")
    item.refresh_from_db()
    assert item.state == RequestItem.State.PENDING
    assert not AuditEvent.objects.filter(action="item.deny").exists()


def test_revoke_refuses_another_persons_consent(pat, quinns_consent):
    with pytest.raises(Consent.DoesNotExist):
        services.consent_revoke(person=pat, consent_id=quinns_consent.pk)
    quinns_consent.refresh_from_db()
    assert quinns_consent.state == Consent.State.ACTIVE
    assert bit(quinns_consent) == 0
    assert not WebhookEvent.objects.filter(type="consent.revoked").exists()


def test_block_is_the_blocking_persons_own_and_unblock_leaves_others_blocks(
    pat, quinn, organization, pats_consent, quinns_consent
):  # both were asked by the organisation, so both may block it
    services.organization_block(person=quinn, organization_id=organization.pk)
    services.organization_block(person=pat, organization_id=organization.pk)
    assert set(Block.objects.values_list("person_id", flat=True)) == {pat.pk, quinn.pk}

    services.organization_unblock(person=pat, organization_id=organization.pk)

    assert list(Block.objects.values_list("person_id", flat=True)) == [quinn.pk]


def test_export_holds_only_the_exporting_persons_requests_and_consents(pat, pats_consent, quinns_consent):
    archive = zipfile.ZipFile(io.BytesIO(services.person_export(person=pat)))
    data = json.loads(archive.read("data.json"))
    assert [c["id"] for c in data["consents"]] == [pats_consent.pk]
    assert [r["id"] for r in data["requests"]] == [pats_consent.item.request_id]
    assert QUINN_PHONE not in archive.read("data.json").decode()


def test_delete_withdraws_refuses_and_erases_only_the_deleting_persons_things(pat, pats_consent, quinns_consent):
    quinns_open = quinns_consent.item.request.items.get(position=2)
    quinns_samples = Sample.objects.filter(item__request=quinns_consent.item.request)

    services.person_delete(person=pat)

    pats_consent.refresh_from_db()
    quinns_consent.refresh_from_db()
    quinns_open.refresh_from_db()
    assert pats_consent.state == Consent.State.REVOKED
    assert quinns_consent.state == Consent.State.ACTIVE
    assert bit(quinns_consent) == 0
    assert quinns_open.state == RequestItem.State.PENDING
    assert quinns_samples.count() == 2
    assert quinns_samples.exclude(file="").count() == 2


# ---- services acting for an organisation --------------------------------------------------------


def test_cancel_refuses_another_organisations_request(pending_request, other_organization, other_operator):
    with pytest.raises(ConsentRequest.DoesNotExist):
        services.request_cancel(actor=other_operator, organization=other_organization, request_id=pending_request.pk)
    pending_request.refresh_from_db()
    assert pending_request.state == ConsentRequest.State.PENDING


def test_resend_refuses_another_organisations_request(pending_request, other_organization, other_operator):
    later = timezone.now() + timedelta(minutes=11)  # past the resend interval
    with time_machine.travel(later), pytest.raises(ConsentRequest.DoesNotExist):
        services.request_notify_again(
            actor=other_operator, organization=other_organization, request_id=pending_request.pk
        )
    assert Notification.objects.filter(request=pending_request).count() == 1


def test_key_revoke_and_rotate_refuse_another_organisations_key(organization, other_organization, other_operator):
    key, _value = services.api_key_create(actor="test", organization=organization, name="svc", scopes=["tokens:verify"])
    with pytest.raises(ApiKey.DoesNotExist):
        services.api_key_revoke(actor=other_operator, organization=other_organization, key_id=key.pk)
    with pytest.raises(ApiKey.DoesNotExist):
        services.api_key_rotate(actor=other_operator, organization=other_organization, key_id=key.pk)
    key.refresh_from_db()
    assert key.revoked_at is None
    assert ApiKey.objects.count() == 1


def test_webhook_resend_refuses_another_organisations_event(organization, other_organization, other_operator):
    with transaction.atomic():  # the first delivery attempt runs on commit
        event = services.webhook_event_add(organization=organization, type="consent.granted", payload={})
    event.refresh_from_db()
    state = event.state
    with pytest.raises(WebhookEvent.DoesNotExist):
        services.webhook_event_resend(actor=other_operator, organization=other_organization, event_id=event.pk)
    event.refresh_from_db()
    assert event.state == state
    assert not AuditEvent.objects.filter(action="webhook_event.resend").exists()


def test_webhook_endpoint_changes_touch_only_the_callers_organisation(
    organization, operator, other_organization, other_operator
):
    mine, _secret = services.webhook_endpoint_set(
        actor=operator, organization=organization, url="https://hooks.example.com/consent"
    )
    services.webhook_endpoint_set(
        actor=other_operator, organization=other_organization, url="https://hooks.other.example/consent"
    )
    services.webhook_endpoint_delete(actor=other_operator, organization=other_organization)

    assert list(WebhookEndpoint.objects.values_list("pk", "url")) == [(mine.pk, "https://hooks.example.com/consent")]


# ---- the status-list bit flips inside the revocation --------------------------------------------


def test_status_bit_is_set_inside_the_revoke_transaction_before_commit(pat, pats_consent):
    with transaction.atomic():  # the caller's transaction: nothing after commit has run yet
        services.consent_revoke(person=pat, consent_id=pats_consent.pk)
        assert bit(pats_consent) == 1


def test_status_bit_is_set_inside_the_expiry_transaction(pats_consent):
    with transaction.atomic():
        assert services.consents_expire(now=pats_consent.valid_until + timedelta(seconds=1))[0] == 1
        assert bit(pats_consent) == 1
    pats_consent.refresh_from_db()
    assert pats_consent.state == Consent.State.EXPIRED


def test_a_revocation_that_fails_after_the_flip_leaves_the_bit_unset(pat, pats_consent, monkeypatch):
    from consent.services import decisions

    def outbox_down(**kwargs):
        raise RuntimeError("outbox write failed")

    monkeypatch.setattr(decisions, "webhook_event_add", outbox_down)
    with pytest.raises(RuntimeError):
        services.consent_revoke(person=pat, consent_id=pats_consent.pk)

    pats_consent.refresh_from_db()
    assert pats_consent.state == Consent.State.ACTIVE
    assert bit(pats_consent) == 0


def test_revoke_fails_closed_when_the_status_bit_cannot_be_set(pat, pats_consent, monkeypatch):
    def list_unavailable(**kwargs):
        raise RuntimeError("status list unavailable")

    monkeypatch.setattr(statuslist, "status_slot_invalidate", list_unavailable)
    with pytest.raises(RuntimeError):
        services.consent_revoke(person=pat, consent_id=pats_consent.pk)

    # No half revocation: online it would be refused while offline verifiers still accept the token.
    pats_consent.refresh_from_db()
    assert pats_consent.state == Consent.State.ACTIVE
    assert not AuditEvent.objects.filter(action="consent.revoke").exists()
    assert not WebhookEvent.objects.filter(type="consent.revoked").exists()
