"""Retention the system enforces: samples are erased a number of days after the consent ends, proof stays.

Time moves with time_machine; the periodic task runs as beat would run it (`samples_erase_task`).
"""

import io
from datetime import timedelta

import pytest
import time_machine
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone
from django.utils.translation import override

from audit.models import AuditEvent
from consent import services
from consent.builders import build_granted_consent, build_request
from consent.models import Consent, ConsentRequest, RequestItem, Sample
from consent.previews import preview_name, thumbnail_bytes
from consent.tasks import samples_erase_task
from consent.templatetags.consent_labels import retention_words
from tests.conftest import office_login
from tests.consent.conftest import PERSON_PHONE, api_request_body, request_input
from tests.consent.test_api import api, create, key_for

pytestmark = pytest.mark.django_db

DAY = timedelta(days=1)


def files_of(item) -> list[str]:
    return [s.file.name for s in item.samples.all()]


def stored(names) -> list[bool]:
    return [default_storage.exists(name) for name in names]


def audit_verify_exit_code() -> int:
    try:
        call_command("audit_verify", stdout=io.StringIO(), stderr=io.StringIO())
    except SystemExit as exc:
        return exc.code
    return 0


def test_a_withdrawn_consents_samples_are_erased_after_the_days_promised_and_the_proof_stays(
    pat_verified, operator, organization
):
    consent = build_granted_consent(person=pat_verified, actor=operator, organization=organization, retention_days=30)
    item = consent.item
    face = item.samples.get()
    thumbnail_bytes(face)  # the portal made a preview: a copy of the face that must go too
    names = [face.file.name, preview_name(face.sha256)]
    assert stored(names) == [True, True]
    services.consent_revoke(person=pat_verified, consent_id=consent.pk, reason="no more")
    revoked_at = Consent.objects.get(pk=consent.pk).revoked_at

    with time_machine.travel(revoked_at + 30 * DAY - timedelta(minutes=1)):
        assert samples_erase_task.delay().get() == {"items": 0, "samples": 0}
    assert stored(names) == [True, True]

    with time_machine.travel(revoked_at + 30 * DAY + timedelta(minutes=1)):
        assert samples_erase_task.delay().get() == {"items": 1, "samples": 1}
        assert samples_erase_task.delay().get() == {"items": 0, "samples": 0}  # nothing twice

    assert stored(names) == [False, False]
    face.refresh_from_db()
    assert face.file.name == "" and face.erased_at is not None
    assert face.sha256 in consent.terms_json  # the frozen terms still bind the hash
    consent.refresh_from_db()
    assert consent.state == Consent.State.REVOKED and consent.terms_sha256
    event = AuditEvent.objects.get(action="item.samples_erase")
    assert event.data["samples"] == [face.sha256] and event.data["reason"] == "schedule"
    assert event.organization_id == organization.pk
    assert audit_verify_exit_code() == 0


@pytest.mark.parametrize("ending", ["deny", "cancel", "request_expires", "consent_expires"])
def test_every_way_an_item_ends_starts_the_retention_clock(ending, pat_verified, operator, organization):
    request = build_request(actor=operator, organization=organization, phone=PERSON_PHONE, retention_days=7)
    services.request_open(person=pat_verified, code=request.code)
    face, _voice = request.items.order_by("position")
    ended_at = timezone.now()
    if ending == "deny":
        services.item_deny(person=pat_verified, item_id=face.pk, reason="no")
        target = face
    elif ending == "cancel":
        services.request_cancel(actor=operator, organization=organization, request_id=request.pk)
        target = face
    elif ending == "request_expires":
        ended_at = request.expires_at + timedelta(minutes=1)
        services.consents_expire(now=ended_at)
        target = face
    else:
        consent = services.consent_grant(actor=pat_verified, item_id=face.pk)
        ended_at = consent.valid_until + timedelta(minutes=1)
        with time_machine.travel(ended_at):
            services.consents_expire()
        target = face
    names = files_of(target)
    assert stored(names) == [True]
    with time_machine.travel(ended_at + 6 * DAY):
        samples_erase_task.delay()
    assert stored(names) == [True]
    with time_machine.travel(ended_at + 7 * DAY + timedelta(hours=1)):
        samples_erase_task.delay()
    assert stored(names) == [False]
    assert Sample.objects.get(item=target).erased_at is not None


def test_samples_in_use_are_never_erased(pat_verified, operator, organization):
    """An active consent and a request still awaiting the person keep their samples, however long it takes."""
    consent = build_granted_consent(person=pat_verified, actor=operator, organization=organization, retention_days=0)
    pending = build_request(actor=operator, organization=organization, phone="+8613900001111", retention_days=0)
    names = files_of(consent.item) + files_of(pending.items.get(position=1))
    assert services.samples_erase_due(now=consent.valid_until - timedelta(minutes=1)) == {"items": 0, "samples": 0}
    assert stored(names) == [True, True]
    assert not AuditEvent.objects.filter(action="item.samples_erase").exists()


def test_the_platform_maximum_bounds_an_older_longer_promise(pat_verified, operator, organization):
    consent = build_granted_consent(person=pat_verified, actor=operator, organization=organization, retention_days=180)
    services.consent_revoke(person=pat_verified, consent_id=consent.pk)
    revoked_at = Consent.objects.get(pk=consent.pk).revoked_at
    names = files_of(consent.item)
    with override_settings(SAMPLE_RETENTION_MAX_DAYS=10):
        services.samples_erase_due(now=revoked_at + 9 * DAY)
        assert stored(names) == [True]
        services.samples_erase_due(now=revoked_at + 10 * DAY)
    assert stored(names) == [False]


def test_the_api_refuses_a_retention_beyond_the_platform_maximum_and_creates_nothing(organization):
    client = api(key_for(organization))
    with override_settings(SAMPLE_RETENTION_MAX_DAYS=90):
        response = create(client, api_request_body(retention_days=91))
    assert response.status_code == 400, response.json()
    assert response.json()["code"] == "invalid"
    assert "between 0 and 90 days" in response.json()["fields"]["retention_days"][0]
    assert not ConsentRequest.objects.exists()
    response = create(client, api_request_body(retention_days=-1), key="k-2")
    assert response.status_code == 400 and "retention_days" in response.json()["fields"]


def test_the_api_default_is_the_platform_default_and_it_is_in_the_frozen_terms(organization):
    body = api_request_body()
    del body["retention_days"]
    with override_settings(SAMPLE_RETENTION_DEFAULT_DAYS=14):
        response = create(api(key_for(organization)), body)
    assert response.status_code == 201, response.json()
    item = RequestItem.objects.get()
    assert item.request.retention_days == 14
    assert '"retention_days":14' in item.terms_json


def test_the_office_form_refuses_a_retention_beyond_the_maximum_inline(client, operator):
    from tests.consent.test_office import form_data

    office_login(client, operator)
    data = form_data() | {"retention_days": "181"}
    response = client.post("/office/requests/new/", data)
    assert response.status_code == 200
    assert "Samples may be kept between 0 and 180 days after the consent ends." in response.content.decode()
    assert not ConsentRequest.objects.exists()


def test_the_person_reads_the_retention_in_words_from_the_number(person_client, operator, organization):
    request = build_request(actor=operator, organization=organization, phone=PERSON_PHONE, retention_days=45)
    html = person_client.get(f"/r/{request.code}/").content.decode()
    assert "Your samples are erased 45 days after the consent ends" in html
    with override("zh-hans"):
        assert retention_words(45).startswith("您的样本将在授权结束（您撤回或授权到期）45 天后删除")
        assert retention_words(0).startswith("授权一结束（您撤回或授权到期）")
    assert retention_words(0, "en").startswith("Your samples are erased as soon as the consent ends")
    assert retention_words(1, "en").startswith("Your samples are erased 1 day after")


def test_the_person_and_the_operator_see_when_samples_were_erased(
    person_client, operator, organization, client_factory
):
    consent = build_granted_consent(
        person=person_client.person, actor=operator, organization=organization, retention_days=0
    )
    page = person_client.get(f"/me/consents/{consent.pk}/").content.decode()
    assert "erased on" not in page
    services.consent_revoke(person=person_client.person, consent_id=consent.pk)
    page = person_client.get(f"/me/consents/{consent.pk}/").content.decode()
    assert "Samples erased on" in page and "at the latest" in page  # due, not done yet
    services.samples_erase_due(now=timezone.now() + timedelta(hours=1))
    page = person_client.get(f"/me/consents/{consent.pk}/").content.decode()
    assert "Sample 1 erased on" in page and "/samples/" not in page
    sample = consent.item.samples.get()
    url = f"/r/{consent.item.request.code}/items/{consent.item.pk}/samples/{sample.pk}/"
    assert person_client.get(url).status_code == 404  # no file to serve: a 404, not a 500
    office = office_login(client_factory(), operator)
    page = office.get(f"/office/consents/{consent.pk}/").content.decode()
    assert "Sample erased on" in page
    assert sample.sha256 in page  # the proof is still shown
    assert office.get(f"/office/samples/{sample.pk}/").status_code == 404


def test_account_deletion_erases_through_the_same_place_and_records_it(pat_verified, operator, organization):
    consent = build_granted_consent(person=pat_verified, actor=operator, organization=organization)
    names = files_of(consent.item)
    services.person_delete(person=pat_verified)
    assert stored(names) == [False]
    sample = consent.item.samples.get()
    assert sample.erased_at is not None
    assert AuditEvent.objects.filter(action="item.samples_erase", data__reason="account deleted").count() == 2


def test_request_input_builder_keeps_the_structured_days():
    assert request_input(retention_days=3).retention_days == 3
