"""Registering generated outputs: the receipt, the AIGC label, the guards, withdrawal, export, the portal."""

import hashlib
import io
import json
import uuid
import zipfile
from datetime import timedelta

import jwt
import pytest
import time_machine
from django.http import Http404
from django.utils import timezone
from PIL import Image
from rest_framework.test import APIClient

from audit.models import AuditEvent
from consent import services
from consent.builders import build_granted_consent, build_verified_person
from consent.errors import PresentationNotFound
from consent.models import Output, Presentation, WebhookEvent
from consent.selectors import output_get_for_person
from consent.tokens import signing_key_rotate
from tests.consent.media import png_bytes

pytestmark = pytest.mark.django_db

AIGC_FIELDS = {
    "Label",
    "ContentProducer",
    "ProduceID",
    "ReservedCode1",
    "ContentPropagator",
    "PropagateID",
    "ReservedCode2",
}


def api(organization, scopes=("tokens:verify", "outputs:write")) -> APIClient:
    _key, secret = services.api_key_create(actor="test", organization=organization, name="gen", scopes=list(scopes))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def verify(client, consent, operation=None) -> dict:
    operation = operation or consent.operations[0]
    body = {"token": consent.token.value, "modality": consent.modality, "operation": operation}
    return client.post("/api/v1/tokens/verify", body, format="json").json()


def register(client, presentation_id, sha256=None, media_type="image/png", **extra):
    body = {"presentation_id": presentation_id, "sha256": sha256 or hashlib.sha256(b"out").hexdigest()}
    return client.post("/api/v1/outputs", {**body, "media_type": media_type, **extra}, format="json")


@pytest.fixture
def consent(organization, operator, pat_verified):
    return build_granted_consent(person=pat_verified, actor=operator, organization=organization)


@pytest.fixture
def service(organization):
    return api(organization)


def test_registration_answers_a_receipt_an_independent_jose_library_verifies_from_the_jwks(
    service, consent, organization, client, settings
):
    presentation_id = verify(service, consent)["presentation_id"]
    response = register(service, presentation_id, perceptual_hash="ee95884EE4f4874a")
    assert response.status_code == 201, response.json()
    answer = response.json()
    jwks = client.get("/.well-known/jwks.json").json()
    header = jwt.get_unverified_header(answer["receipt"])
    assert header["typ"] == "provenance+jwt" and header["alg"] == "EdDSA"
    key = next(jwt.PyJWK(k) for k in jwks["keys"] if k["kid"] == header["kid"])
    claims = jwt.decode(answer["receipt"], key.key, algorithms=["EdDSA"])  # PyJWT, not our joserfc
    assert claims["jti"] == answer["receipt_id"]
    assert claims["iss"] == settings.SITE_URL
    assert claims["output"] == {
        "sha256": hashlib.sha256(b"out").hexdigest(),
        "media_type": "image/png",
        "phash": "ee95884ee4f4874a",
    }
    assert claims["consent"] == str(consent.public_id) and claims["org_name"] == organization.name
    assert claims["org"] == str(organization.public_id)  # as consent tokens' `aud`, never the database id
    assert "sub" not in claims and consent.person.phone not in json.dumps(claims)  # nothing about the person
    label = answer["aigc_label"]["AIGC"]
    assert set(label) == AIGC_FIELDS
    assert label["Label"] == "1" and label["ContentProducer"] == organization.uscc
    assert label["ProduceID"] == answer["receipt_id"]
    assert label["ReservedCode1"] == answer["check_url"] == f"{settings.SITE_URL}/provenance/r/{answer['receipt_id']}"
    event = AuditEvent.objects.get(action="output.register")
    assert event.organization_id == organization.pk and event.data["receipt_id"] == answer["receipt_id"]


def test_the_same_file_again_answers_the_first_registration(service, consent):
    presentation_id = verify(service, consent)["presentation_id"]
    first = register(service, presentation_id)
    again = register(service, verify(service, consent)["presentation_id"])
    assert again.status_code == 200 and again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert Output.objects.count() == 1
    assert AuditEvent.objects.filter(action="output.register").count() == 1


def test_the_same_file_under_another_consent_is_refused(service, consent, operator, organization, pat_verified):
    voice = build_granted_consent(person=pat_verified, actor=operator, organization=organization, position=2)
    register(service, verify(service, consent)["presentation_id"], media_type="video/mp4")
    response = register(service, verify(service, voice)["presentation_id"], media_type="video/mp4")
    assert response.status_code == 409
    assert response.json()["code"] == "output_registered_under_another_consent"
    assert Output.objects.get().consent == consent


def test_another_organisations_presentation_is_not_found(service, consent, other_organization):
    presentation_id = verify(service, consent)["presentation_id"]
    response = register(api(other_organization), presentation_id)
    assert response.status_code == 404
    assert response.json()["code"] == "presentation_not_found"
    assert not Output.objects.exists()


def test_service_level_filter_keeps_presentations_to_their_organisation(service, consent, other_organization):
    presentation_id = verify(service, consent)["presentation_id"]
    key, _secret = services.api_key_create(
        actor="test", organization=other_organization, name="x", scopes=["outputs:write"]
    )
    with pytest.raises(PresentationNotFound):
        services.output_register(actor=key, presentation_id=presentation_id, sha256="b" * 64, media_type="image/png")
    assert not Output.objects.exists()


def test_a_refused_verify_call_cannot_register(service, consent):
    answer = verify(service, consent, operation="face_generation")  # not consented
    assert answer == {"active": False, "reason": "operation_not_consented"}
    presentation = Presentation.objects.get()
    response = register(service, presentation.pk)
    assert response.status_code == 409 and response.json()["code"] == "presentation_not_active"
    assert not Output.objects.exists()


def test_a_verify_call_older_than_the_limit_cannot_register(service, consent, settings):
    presentation_id = verify(service, consent)["presentation_id"]
    with time_machine.travel(timezone.now() + timedelta(minutes=settings.OUTPUT_PRESENTATION_MAX_AGE_MINUTES + 1)):
        response = register(service, presentation_id)
    assert response.status_code == 409 and response.json()["code"] == "presentation_too_old"
    with time_machine.travel(timezone.now() + timedelta(minutes=settings.OUTPUT_PRESENTATION_MAX_AGE_MINUTES - 1)):
        assert register(service, presentation_id).status_code == 201


def test_an_output_under_a_withdrawn_consent_is_refused(service, consent):
    presentation_id = verify(service, consent)["presentation_id"]
    services.consent_revoke(person=consent.person, consent_id=consent.pk)
    response = register(service, presentation_id)
    assert response.status_code == 409 and response.json()["code"] == "consent_not_active"
    assert not Output.objects.exists()


def test_an_output_past_the_consents_validity_is_refused(service, consent):
    presentation_id = verify(service, consent)["presentation_id"]
    with time_machine.travel(consent.valid_until + timedelta(seconds=1)):
        Presentation.objects.filter(pk=presentation_id).update(created_at=timezone.now())
        response = register(service, presentation_id)
    assert response.status_code == 409 and response.json()["code"] == "consent_not_active"


def test_a_face_consent_does_not_cover_an_audio_output(service, consent):
    response = register(service, verify(service, consent)["presentation_id"], media_type="audio/mpeg")
    assert response.status_code == 400 and response.json()["code"] == "media_type_not_consented"
    assert not Output.objects.exists()


def test_a_key_without_the_outputs_scope_gets_403(organization, consent):
    client = api(organization, scopes=["tokens:verify"])
    response = register(client, verify(client, consent)["presentation_id"])
    assert response.status_code == 403 and "outputs:write" in response.json()["message"]


def test_bad_fields_are_named_and_change_nothing(service, consent):
    presentation_id = verify(service, consent)["presentation_id"]
    response = register(service, presentation_id, sha256="xyz", media_type="text/plain", perceptual_hash="12")
    assert response.status_code == 400 and response.json()["code"] == "invalid"
    assert set(response.json()["fields"]) == {"sha256", "media_type", "perceptual_hash"}
    response = register(service, presentation_id, thumbnail_base64="bm90IGFuIGltYWdl")  # "not an image"
    assert response.status_code == 400 and response.json()["code"] == "thumbnail_invalid"
    assert not Output.objects.exists()


def test_withdrawal_marks_every_output_and_tells_the_organisation_once_per_output(service, consent, organization):
    receipts = set()
    for n in range(2):
        answer = register(service, verify(service, consent)["presentation_id"], sha256=f"{n}" * 64).json()
        receipts.add(answer["receipt_id"])
    services.consent_revoke(person=consent.person, consent_id=consent.pk)
    assert all(o.consent_withdrawn_at for o in Output.objects.all())
    events = WebhookEvent.objects.filter(organization=organization, type="output.consent_withdrawn")
    assert {e.payload["data"]["receipt_id"] for e in events} == receipts and events.count() == 2
    event = AuditEvent.objects.get(action="output.consent_withdrawn")
    assert set(event.data["outputs"]) == receipts and event.organization_id == organization.pk


def test_the_receipts_key_stays_published_after_rotation_and_after_every_token_expired(service, consent, client):
    answer = register(service, verify(service, consent)["presentation_id"]).json()
    kid = jwt.get_unverified_header(answer["receipt"])["kid"]
    signing_key_rotate(actor="test")
    with time_machine.travel(consent.valid_until + timedelta(days=120)):  # past the last token's expiry
        kids = {k["kid"] for k in client.get("/.well-known/jwks.json").json()["keys"]}
    assert kid in kids


def test_the_persons_export_holds_the_receipts(service, consent):
    answer = register(service, verify(service, consent)["presentation_id"]).json()
    archive = zipfile.ZipFile(io.BytesIO(services.person_export(person=consent.person)))
    data = json.loads(archive.read("data.json"))
    (exported,) = data["consents"][0]["outputs"]
    assert exported["receipt"] == answer["receipt"] and exported["receipt_id"] == answer["receipt_id"]


def thumbnail() -> str:
    import base64

    buffer = io.BytesIO()
    Image.open(io.BytesIO(png_bytes())).save(buffer, "PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def test_the_portal_lists_outputs_and_shows_thumbnails_only_after_opting_in(person_client, operator, organization):
    consent = build_granted_consent(person=person_client.person, actor=operator, organization=organization)
    service = api(organization)
    answer = register(service, verify(service, consent)["presentation_id"], thumbnail_base64=thumbnail()).json()
    page = person_client.get(f"/me/consents/{consent.pk}/")
    assert answer["receipt_id"] in page.content.decode() and "image/png" in page.content.decode()
    thumbnail_url = f"/me/consents/{consent.pk}/outputs/{answer['receipt_id']}/thumbnail.jpg"
    assert thumbnail_url not in page.content.decode()
    assert person_client.get(thumbnail_url).status_code == 404  # not before opting in
    person_client.post(f"/me/consents/{consent.pk}/outputs/display/", {"show_thumbnails": "1"})
    assert thumbnail_url in person_client.get(f"/me/consents/{consent.pk}/").content.decode()
    response = person_client.get(thumbnail_url)
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    assert Image.open(io.BytesIO(response.content)).size[0] <= 160
    assert AuditEvent.objects.filter(action="output.display_set", data__show_thumbnails=True).exists()


def test_another_person_cannot_see_an_outputs_thumbnail(person_client, operator, organization, client_factory):
    from tests.consent.conftest import portal_sign_in

    consent = build_granted_consent(person=person_client.person, actor=operator, organization=organization)
    service = api(organization)
    answer = register(service, verify(service, consent)["presentation_id"], thumbnail_base64=thumbnail()).json()
    other = client_factory()
    portal_sign_in(other, phone="+8613700001111")
    someone = build_verified_person(phone="+8613700001111", legal_name="Li Si", id_number="110101199003070011")
    services.output_display_set(actor=someone, show_thumbnails=True)
    url = f"/me/consents/{consent.pk}/outputs/{answer['receipt_id']}/thumbnail.jpg"
    assert other.get(url).status_code == 404
    with pytest.raises(Http404):
        output_get_for_person(person=someone, consent_id=consent.pk, receipt_id=uuid.UUID(answer["receipt_id"]))


def test_deleting_the_account_drops_the_thumbnails_and_keeps_the_receipts(service, consent):
    answer = register(service, verify(service, consent)["presentation_id"], thumbnail_base64=thumbnail()).json()
    assert Output.objects.get().thumbnail
    services.person_delete(person=consent.person)
    output = Output.objects.get()
    assert bytes(output.thumbnail) == b"" and output.receipt == answer["receipt"]
    assert output.consent_withdrawn_at is not None  # the deletion withdrew the consent


def test_a_receipt_naming_the_organisation_by_its_old_database_id_still_verifies(service, consent, organization):
    """Receipts signed before `org` became the public id stay valid: the check never read `org`."""
    from consent.provenance.labels import receipt_claims
    from consent.tokens import provenance_receipt_sign

    answer = register(service, verify(service, consent)["presentation_id"]).json()
    output = Output.objects.get(public_id=answer["receipt_id"])
    old_claims = {**receipt_claims(output), "org": str(organization.pk)}
    output.receipt = provenance_receipt_sign(claims=old_claims, keep_published_until=timezone.now())
    output.save(update_fields=["receipt"])
    report = APIClient().get("/api/v1/provenance", {"sha256": output.sha256}).json()
    assert report["registered"] and report["outputs"][0]["receipt_valid"] is True


def test_output_and_provenance_errors_follow_accept_language(service, consent, settings):
    zh = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}
    presentation_id = verify(service, consent)["presentation_id"]
    body = {"presentation_id": presentation_id, "sha256": "a" * 64, "media_type": "image/png"}
    bad = service.post("/api/v1/outputs", {**body, "thumbnail_base64": "abc"}, format="json", **zh).json()
    assert bad["fields"]["thumbnail_base64"] == ["不是有效的 base64。"]
    english = service.post("/api/v1/outputs", {**body, "thumbnail_base64": "abc"}, format="json").json()
    assert english["fields"]["thumbnail_base64"] == ["Not valid base64."]
    bad = APIClient().get("/api/v1/provenance", {"sha256": "abc"}, **zh).json()
    assert bad["fields"]["sha256"] == ["请以 64 位十六进制数字发送文件的 SHA-256。"]
    bad = APIClient().post("/api/v1/provenance", {}, format="multipart", **zh).json()
    assert bad["fields"]["file"] == ["请以 multipart 字段“file”发送要检查的文件。"]
    settings.PROVENANCE_CHECK_MAX_BYTES = 10
    upload = io.BytesIO(b"x" * 11)
    big = APIClient().post("/api/v1/provenance", {"file": upload}, format="multipart", **zh).json()
    assert big["code"] == "file_too_large" and big["message"] == "文件大于 10 字节；请改用其 SHA-256 检查。"
    assert big["fields"] == {"file": ["文件过大。"]}
    assert not Output.objects.exists()
