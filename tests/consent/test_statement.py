"""The recorded consent statement, through the portal, the office and the services.

These tests hold whether or not the likeness extra is installed: a recording of silence is held for review
either way (no speech / check not installed), so they test the gates, the review and the privacy rules.
The models' own verdicts are in test_likeness.py.
"""

import hashlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from audit.models import AuditEvent
from consent import services
from consent.builders import build_request, face_item, voice_item
from consent.demo_media import demo_wav
from consent.errors import StatementInvalid, StatementRequired
from consent.models import ConsentRequest, OrganizationSettings, RequestItem, Statement, StatementPolicy
from consent.records.receipt import receipt_schema
from identity.crypto import decrypt_bytes
from tests.conftest import office_login
from tests.consent.conftest import PERSON_PHONE, last_code, request_input

SILENCE = demo_wav(seconds=3)


@pytest.fixture
def voice_request(organization, operator):
    return build_request(
        actor=operator, organization=organization, phone=PERSON_PHONE, items=[voice_item()], statement_required=True
    )


def _record(person_client, voice_request, content=SILENCE, name="statement.wav"):
    return person_client.post(
        f"/r/{voice_request.code}/statement/", {"recording": SimpleUploadedFile(name, content, "audio/wav")}
    )


def _item(request) -> RequestItem:
    return request.items.get()


def test_the_items_say_a_statement_is_needed_before_the_person_starts(client, voice_request):
    from tests.consent.conftest import portal_sign_in

    portal_sign_in(client)
    summary = client.get(f"/r/{voice_request.code}/")  # before the real-name step
    assert b"Before agreeing you record yourself reading a short statement" in summary.content
    assert '"statement_required":true' in _item(voice_request).terms_json


def test_the_grant_buttons_wait_for_the_statement(person_client, voice_request):
    page = person_client.get(f"/r/{voice_request.code}/")
    assert b"Record your statement first" in page.content
    assert b"Agree to this item" not in page.content
    response = person_client.post(f"/r/{voice_request.code}/items/{_item(voice_request).pk}/code/", follow=True)
    assert b"Record your consent statement first" in response.content
    with pytest.raises(StatementRequired):
        services.consent_grant(actor=person_client.person, item_id=_item(voice_request).pk)
    assert not RequestItem.objects.filter(state=RequestItem.State.GRANTED).exists()


def test_the_statement_page_shows_the_text_with_name_organisation_items_and_number(person_client, voice_request):
    page = person_client.get(f"/r/{voice_request.code}/statement/")
    statement = Statement.objects.get(request=voice_request)
    text = page.content.decode()
    assert person_client.person.legal_name in text
    assert voice_request.organization.name in text
    assert "voice cloning" in text
    assert " ".join(statement.number) in text
    assert 'accept="audio/*"' in text and 'capture="user"' in text  # no JavaScript: the phone's recorder
    assert len(statement.number) == 6 and statement.number.isdigit()
    again = person_client.get(f"/r/{voice_request.code}/statement/")
    assert " ".join(statement.number) in again.content.decode()  # one number per request, not per visit


def test_a_face_request_asks_for_a_video(person_client, organization, operator):
    request = build_request(
        actor=operator, organization=organization, phone=PERSON_PHONE, items=[face_item()], statement_required=True
    )
    page = person_client.get(f"/r/{request.code}/statement/")
    assert b'accept="video/*"' in page.content
    response = _record(person_client, request)  # a WAV: sound only
    assert response.status_code == 400
    assert b"the recording must be a video" in response.content
    assert Statement.objects.get(request=request).state == Statement.State.AWAITING


def test_silence_is_held_for_review_and_the_person_is_told_plainly(person_client, voice_request):
    response = _record(person_client, voice_request)
    assert response.status_code == 302
    statement = Statement.objects.get(request=voice_request)
    assert statement.state == Statement.State.NEEDS_REVIEW
    assert statement.result["failures"] in (["no_speech"], ["check_unavailable"])
    assert statement.sha256 == hashlib.sha256(SILENCE).hexdigest()
    page = person_client.get(f"/r/{voice_request.code}/")
    assert b"could not confirm that the person in your recording" in page.content
    assert b"Agree to this item" not in page.content
    assert AuditEvent.objects.filter(action="statement.check", data__outcome="needs_review").exists()


def test_the_recording_is_encrypted_at_rest_and_served_only_to_its_person(person_client, voice_request, settings):
    _record(person_client, voice_request)
    statement = Statement.objects.get(request=voice_request)
    stored = (settings.MEDIA_ROOT / statement.file.name).read_bytes()
    assert SILENCE not in stored and b"RIFF" not in stored
    assert decrypt_bytes(stored, context="statement.recording") == SILENCE
    mine = person_client.get(f"/r/{voice_request.code}/statement/recording/")
    assert mine.status_code == 200
    assert b"".join(mine) == SILENCE
    assert mine["Cache-Control"] == "no-store"
    assert Client().get(f"/r/{voice_request.code}/statement/recording/").status_code == 404


def test_another_verified_person_gets_404_for_the_statement(person_client, voice_request, client_factory):
    from django.http import Http404

    from consent import selectors
    from consent.builders import build_verified_person
    from tests.consent.conftest import portal_sign_in

    _record(person_client, voice_request)
    stranger = build_verified_person(phone="+8613700000000", legal_name="李四", id_number="110101199003070011")
    other = client_factory()
    portal_sign_in(other, phone=stranger.phone)
    assert other.get(f"/r/{voice_request.code}/statement/recording/").status_code == 404
    assert other.get(f"/r/{voice_request.code}/statement/").status_code == 404
    with pytest.raises(Http404):  # the selector's own filter, whatever the view checks first
        selectors.statement_get_for_person(person=stranger, code=voice_request.code)


def test_limits_give_clear_messages_and_change_nothing(person_client, voice_request, settings):
    response = _record(person_client, voice_request, content=b"hello, not a recording", name="x.wav")
    assert response.status_code == 400
    assert b"it is not a video or audio recording" in response.content
    settings.STATEMENT_MAX_BYTES = 1000
    response = _record(person_client, voice_request)
    assert response.status_code == 400
    assert b"larger than" in response.content
    statement = Statement.objects.get(request=voice_request)
    assert statement.state == Statement.State.AWAITING and not statement.file
    assert not AuditEvent.objects.filter(action="statement.record").exists()


def test_a_too_short_recording_is_refused_when_it_can_be_measured(person_client, voice_request):
    from consent import likeness

    if likeness.unavailable_reason():
        pytest.skip("the duration is measured with PyAV (the likeness extra)")
    services.request_open(person=person_client.person, code=voice_request.code)
    with pytest.raises(StatementInvalid, match="at least"):
        services.statement_start(person=person_client.person, request_id=voice_request.pk, language="en")
        services.statement_record(
            person=person_client.person, request_id=voice_request.pk, content=demo_wav(seconds=0.5)
        )


def test_operator_reviews_with_a_reason_and_the_person_may_then_grant(person_client, voice_request, operator):
    _record(person_client, voice_request)
    statement = Statement.objects.get(request=voice_request)
    office = office_login(Client(), operator)
    page = office.get(f"/office/statements/{statement.pk}/")
    assert page.status_code == 200
    assert b"Why it needs review" in page.content
    assert f"/office/statements/{statement.pk}/recording/".encode() in page.content
    assert b"/office/samples/" in page.content
    refused_without_reason = office.post(f"/office/statements/{statement.pk}/review/", {"decision": "approve"})
    assert refused_without_reason.status_code == 400
    assert b"Say why" in refused_without_reason.content
    statement.refresh_from_db()
    assert statement.state == Statement.State.NEEDS_REVIEW
    office.post(f"/office/statements/{statement.pk}/review/", {"decision": "approve", "reason": "voice heard"})
    statement.refresh_from_db()
    assert statement.state == Statement.State.APPROVED and statement.reviewed_by == operator
    event = AuditEvent.objects.get(action="statement.approve")
    assert event.data["reason"] == "voice heard"
    recording = office.get(f"/office/statements/{statement.pk}/recording/")
    assert b"".join(recording) == SILENCE and recording["Cache-Control"] == "no-store"

    item = _item(voice_request)
    person_client.post(f"/r/{voice_request.code}/items/{item.pk}/code/")
    person_client.post(f"/r/{voice_request.code}/items/{item.pk}/grant/", {"code": last_code()})
    item.refresh_from_db()
    assert item.state == RequestItem.State.GRANTED
    evidence = item.consent.evidence["statement"]
    assert evidence["sha256"] == statement.sha256
    assert evidence["outcome"] == "approved"
    assert evidence["review"] == {"by": operator.username, "at": evidence["review"]["at"], "reason": "voice heard"}
    assert evidence["check"]["failures"] in (["no_speech"], ["check_unavailable"])


def test_a_refused_statement_blocks_every_grant_and_shows_the_reason(person_client, voice_request, operator):
    _record(person_client, voice_request)
    statement = Statement.objects.get(request=voice_request)
    services.statement_review(
        actor=operator,
        organization=voice_request.organization,
        statement_id=statement.pk,
        approve=False,
        reason="a different voice",
    )
    page = person_client.get(f"/r/{voice_request.code}/")
    assert b"a different voice" in page.content
    with pytest.raises(StatementRequired):
        services.consent_grant(actor=person_client.person, item_id=_item(voice_request).pk)
    assert _record(person_client, voice_request).status_code == 400  # decided: no recording over it


def test_only_a_statement_waiting_for_review_can_be_decided(voice_request, operator, person_client):
    services.request_open(person=person_client.person, code=voice_request.code)
    statement = services.statement_start(person=person_client.person, request_id=voice_request.pk, language="en")
    from consent.errors import StatementNotReviewable

    with pytest.raises(StatementNotReviewable):
        services.statement_review(
            actor=operator, organization=voice_request.organization, statement_id=statement.pk, approve=True, reason="x"
        )


def test_outsiders_get_404_and_viewers_cannot_decide(person_client, voice_request, other_operator, organization):
    _record(person_client, voice_request)
    statement = Statement.objects.get(request=voice_request)
    outsider = office_login(Client(), other_operator)
    assert outsider.get(f"/office/statements/{statement.pk}/").status_code == 404
    assert outsider.get(f"/office/statements/{statement.pk}/recording/").status_code == 404
    assert outsider.post(
        f"/office/statements/{statement.pk}/review/", {"decision": "approve", "reason": "x"}
    ).status_code in (403, 404)
    assert Client().get(f"/office/statements/{statement.pk}/recording/").status_code == 404
    with pytest.raises(Statement.DoesNotExist):  # the service's own organisation filter
        services.statement_review(
            actor=other_operator,
            organization=other_operator.memberships.get().organization,
            statement_id=statement.pk,
            approve=True,
            reason="x",
        )
    statement.refresh_from_db()
    assert statement.state == Statement.State.NEEDS_REVIEW


def test_the_organisations_policy_requires_a_statement_for_voice_cloning(organization, operator):
    OrganizationSettings.objects.create(organization=organization, statement_policy=StatementPolicy.VOICE_CLONING)
    face_only = services.request_create(
        actor=operator, organization=organization, data=request_input(items=[face_item()])
    )
    with_voice = services.request_create(
        actor=operator, organization=organization, data=request_input("+8613600000001", items=[voice_item()])
    )
    assert not face_only.statement_required
    assert with_voice.statement_required


def test_without_a_statement_requirement_granting_is_as_before(person_client, organization, operator):
    request = build_request(actor=operator, organization=organization, phone=PERSON_PHONE, items=[voice_item()])
    services.request_open(person=person_client.person, code=request.code)
    consent = services.consent_grant(actor=person_client.person, item_id=request.items.get().pk)
    assert "statement" not in consent.evidence
    assert person_client.get(f"/r/{request.code}/statement/").status_code == 302


def test_deleting_the_account_erases_the_recording(person_client, voice_request, settings):
    _record(person_client, voice_request)
    statement = Statement.objects.get(request=voice_request)
    path = settings.MEDIA_ROOT / statement.file.name
    assert path.exists()
    services.person_delete(person=person_client.person)
    statement.refresh_from_db()
    assert not statement.file and statement.erased_at is not None
    assert not path.exists()
    assert statement.sha256  # the hash stays as evidence
    assert ConsentRequest.objects.get(pk=voice_request.pk).statement.sha256 == statement.sha256


@pytest.mark.pdf
def test_the_signed_record_and_its_receipt_carry_the_statement(person_client, voice_request, operator):
    import io
    import json
    import re

    import pypdf
    from jsonschema import Draft202012Validator, FormatChecker

    from consent.models import Artifact

    _record(person_client, voice_request)
    statement = Statement.objects.get(request=voice_request)
    services.statement_review(
        actor=operator, organization=voice_request.organization, statement_id=statement.pk, approve=True, reason="ok"
    )
    consent = services.consent_grant(actor=person_client.person, item_id=_item(voice_request).pk)
    with Artifact.objects.get(consent=consent, kind="grant").file.open("rb") as handle:
        reader = pypdf.PdfReader(io.BytesIO(handle.read()))
    (raw,) = reader.attachments["receipt.json"]
    receipt = json.loads(raw)
    Draft202012Validator(receipt_schema(), format_checker=FormatChecker()).validate(receipt)
    assert receipt["x-likeness"]["statement"]["sha256"] == statement.sha256
    assert receipt["x-likeness"]["statement"]["outcome"] == "approved"
    text = re.sub(r"\s+", "", "".join(page.extract_text() for page in reader.pages))
    assert statement.sha256 in text
    assert "录制的同意声明" in text and statement.number in text


def test_the_persons_copy_of_their_data_holds_the_statement_and_its_recording(person_client, voice_request):
    import io
    import json
    import zipfile

    _record(person_client, voice_request)
    archive = zipfile.ZipFile(io.BytesIO(services.person_export(person=person_client.person)))
    (statement,) = json.loads(archive.read("data.json"))["statements"]
    assert statement["sha256"] == hashlib.sha256(SILENCE).hexdigest()
    assert archive.read(statement["recording"]) == SILENCE


def test_the_retention_schedule_erases_the_recording_with_the_samples(person_client, voice_request, settings):
    _record(person_client, voice_request)
    statement = Statement.objects.get(request=voice_request)
    path = settings.MEDIA_ROOT / statement.file.name
    services.item_samples_erase(item_id=_item(voice_request).pk)
    statement.refresh_from_db()
    assert not statement.file and statement.erased_at is not None and not path.exists()
    assert AuditEvent.objects.filter(action="statement.erase", data__reason="schedule").exists()
