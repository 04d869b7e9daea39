"""Signed consent records: rendered after the grant, PDF/A-3b with the receipt, PAdES-signed, downloadable
by the person and their organisation's operators only, rendered once however often the task runs; and their
public verification (the /verify/ upload page, the QR status page and `manage.py verify_artifact`)."""

import hashlib
import io
import json
import re
from datetime import timedelta

import pypdf
import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client, override_settings
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import SignatureCoverageLevel, validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from audit.canonical import canonical_json
from audit.models import AuditEvent
from consent import services
from consent.models import Artifact, Consent
from consent.public.verify_views import MAX_UPLOAD_BYTES
from consent.records.render import artifact_build, artifact_verify, html_to_pdfa
from consent.records.sign import _dev_certificates, pdf_sign, signing_material
from consent.records.tasks import artifact_render_task
from consent.services import consent_grant
from consent.services.artifacts import _load
from identity.services import person_identity_verify
from tests.consent.conftest import PERSON_ID, PERSON_NAME, png_bytes, portal_sign_in

pytestmark = [pytest.mark.django_db, pytest.mark.pdf]

OTHER_PHONE = "+8613700001111"


def valid_id_number(first17: str) -> str:
    """A GB 11643 number with its check character."""
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return first17 + "10X98765432"[sum(int(d) * w for d, w in zip(first17, weights, strict=True)) % 11]


def signed_in_person(client, phone, id_number, name=PERSON_NAME):
    person = portal_sign_in(client, phone)
    client.person = person_identity_verify(person=person, legal_name=name, id_number=id_number)
    return client


@pytest.fixture
def pat(client_factory, pending_request):
    """Pat (the request's phone), signed in on a client of their own so `client` stays free for others."""
    return signed_in_person(client_factory(), pending_request.person_phone, PERSON_ID)


@pytest.fixture
def granted(pat, pending_request) -> Consent:
    """Pat grants the face item; the record is rendered and signed when the grant commits."""
    services.request_open(person=pat.person, code=pending_request.code)
    face = pending_request.items.get(position=1)
    return consent_grant(actor=pat.person, item_id=face.pk)


def pdf_of(consent: Consent, kind: str = "grant") -> bytes:
    with Artifact.objects.get(consent=consent, kind=kind).file.open("rb") as handle:
        return handle.read()


def test_grant_stores_one_record_signed_by_the_platform_certificate(granted):
    artifact = Artifact.objects.get(consent=granted)
    data = pdf_of(granted)
    assert artifact.size == len(data)
    assert artifact.sha256 == hashlib.sha256(data).hexdigest()
    material = signing_material()
    reader = PdfFileReader(io.BytesIO(data))
    (signature,) = reader.embedded_signatures
    context = ValidationContext(trust_roots=material.trust_roots, other_certs=list(material.chain))
    status = validate_pdf_signature(signature, context)
    assert status.bottom_line and status.intact and status.valid and status.trusted
    assert status.coverage == SignatureCoverageLevel.ENTIRE_FILE
    assert status.signing_cert.dump() == material.certificate.dump()
    assert signature.sig_object["/SubFilter"] == "/ETSI.CAdES.detached"  # PAdES
    event = AuditEvent.objects.get(action="artifact.create")
    assert event.data["sha256"] == artifact.sha256 and event.target_id == str(artifact.pk)


def test_a_signed_record_weighs_tens_of_kilobytes_not_hundreds(pat, granted):
    # 48 KB (withdrawal) and 62 KB (grant): the CJK font carries only the ~300 glyphs shown
    # (consent.records.fonts). As WeasyPrint embeds it, keeping the font's glyph numbering, they were 188 and
    # 203 KB. The size follows from the content alone (its timestamps have a fixed width): not a timing.
    services.consent_revoke(person=pat.person, consent_id=granted.pk, reason="changed my mind")
    sizes = {kind: len(pdf_of(granted, kind)) for kind in ("grant", "revocation")}
    assert all(size < 100_000 for size in sizes.values()), sizes


def test_record_declares_pdfa_3b_and_embeds_the_stored_terms_as_receipt(granted):
    data = pdf_of(granted)
    reader = pypdf.PdfReader(io.BytesIO(data))
    assert data.startswith(b"%PDF-1.7") and reader.trailer["/Root"].get("/Version") in (None, "/1.7")  # not 2.0
    xmp = reader.trailer["/Root"]["/Metadata"].get_object().get_data().decode()
    assert re.search(r'pdfaid:part(="|>)3', xmp), xmp
    assert re.search(r'pdfaid:conformance(="|>)B', xmp), xmp
    (raw,) = reader.attachments["receipt.json"]
    receipt = json.loads(raw)
    own = receipt["x-likeness"]
    assert canonical_json(own["terms"]).decode() == granted.terms_json
    assert own["terms_sha256"] == granted.terms_sha256
    assert canonical_json(receipt) == raw  # the receipt itself is canonical JSON
    assert own["consent_id"] == granted.pk and own["kind"] == "grant"
    assert receipt["jurisdiction"] == "CN" and receipt["sensitive"] is True
    assert receipt["piiPrincipalId"] == granted.person.id_number_masked
    assert own["uscc"] == granted.organization.uscc
    purpose = receipt["services"][0]["purposes"][0]
    assert purpose["consentType"] == "EXPLICIT" and purpose["piiCategory"] == ["biometric:face"]
    assert own["code_digest"] == granted.code_digest
    filespec = reader.trailer["/Root"]["/Names"]["/EmbeddedFiles"]["/Names"][1].get_object()
    assert filespec["/AFRelationship"] == "/Source"


def test_chinese_and_english_text_can_be_copied_out_of_the_record(granted):
    text = "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf_of(granted))).pages)
    flat = re.sub(r"\s+", "", text)
    for expected in ("同意编号", "人脸替换", "撤回方式", granted.person.legal_name_masked, "Consent ID"):
        assert expected.replace(" ", "") in flat, expected
    assert "Film dubbing trailer" in text
    assert granted.organization.uscc in flat
    assert f"#{granted.code_digest}" in flat
    assert f"/verify/{granted.public_id}" in flat  # the QR target, not enumerable
    sample_sha = json.loads(granted.terms_json)["samples"][0]["sha256"]
    assert sample_sha in flat
    assert granted.token.jti in flat


def test_revoking_renders_a_withdrawal_record_that_points_at_the_grant(pat, granted):
    services.consent_revoke(person=pat.person, consent_id=granted.pk, reason="changed my mind")
    grant = Artifact.objects.get(consent=granted, kind="grant")
    reader = pypdf.PdfReader(io.BytesIO(pdf_of(granted, "revocation")))
    receipt = json.loads(reader.attachments["receipt.json"][0])
    own = receipt["x-likeness"]
    assert own["kind"] == "revocation" and own["consent_id"] == granted.pk
    assert own["revocation"]["grant_artifact_sha256"] == grant.sha256
    assert own["terms_sha256"] == granted.terms_sha256
    assert own["revocation"]["revoked_at"] > 0
    assert "撤回" in reader.pages[0].extract_text()


def test_a_retried_or_repeated_task_makes_one_record(granted, monkeypatch):
    Artifact.objects.filter(consent=granted).delete()  # as if the render after commit had failed
    import consent.records.render
    import consent.services.artifacts

    real_build, calls = consent.records.render.artifact_build, []

    def flaky_build(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise OSError("storage hiccup")
        return real_build(*args, **kwargs)

    monkeypatch.setattr(consent.services.artifacts, "artifact_build", flaky_build)
    events = AuditEvent.objects.filter(action="artifact.create").count()
    result = artifact_render_task.apply(args=(granted.pk, "grant"), throw=False)
    assert result.successful(), result.traceback
    artifact_render_task.apply(args=(granted.pk, "grant"))
    artifact_render_task.delay(granted.pk, "grant")
    assert len(calls) == 2  # the failure and its retry; later runs find the record and stop
    assert Artifact.objects.filter(consent=granted).count() == 1
    assert AuditEvent.objects.filter(action="artifact.create").count() == events + 1


def test_a_run_that_loses_the_race_keeps_the_winner_and_deletes_its_own_file(granted, monkeypatch):
    winner = Artifact.objects.get(consent=granted)
    Artifact.objects.filter(pk=winner.pk).delete()
    import consent.services.artifacts as service

    def build_while_another_run_commits(*args, **kwargs):
        Artifact.objects.create(consent=granted, kind="grant", file=winner.file.name, sha256="0" * 64, size=1)
        return b"%PDF-1.7 loser"

    monkeypatch.setattr(service, "artifact_build", build_while_another_run_commits)
    result = service.artifact_generate(consent_id=granted.pk, kind="grant")
    assert result.sha256 == "0" * 64
    assert Artifact.objects.filter(consent=granted).count() == 1
    folder, name = winner.file.name.rsplit("/", 1)
    assert winner.file.storage.listdir(folder)[1] == [name]  # the loser's upload was removed


# ---- download ---------------------------------------------------------------------------------


def test_person_downloads_their_own_record(pat, granted):
    response = pat.get(f"/me/consents/{granted.pk}/artifacts/grant.pdf")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert b"".join(response.streaming_content) == pdf_of(granted)
    assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]


def test_another_person_gets_404_for_someone_elses_record(client, granted):
    signed_in_person(client, OTHER_PHONE, valid_id_number("11010119900307001"))
    assert client.get(f"/me/consents/{granted.pk}/artifacts/grant.pdf").status_code == 404


def test_missing_or_unknown_record_is_404(pat, granted):
    assert pat.get(f"/me/consents/{granted.pk}/artifacts/revocation.pdf").status_code == 404
    assert pat.get(f"/me/consents/{granted.pk}/artifacts/secret.pdf").status_code == 404


def test_anonymous_visitor_is_sent_to_sign_in(client, granted):
    response = client.get(f"/me/consents/{granted.pk}/artifacts/grant.pdf")
    assert response.status_code == 302 and response["Location"].startswith("/signin/")
    response = client.get(f"/office/consents/{granted.pk}/artifacts/grant.pdf")
    assert response.status_code == 302 and response["Location"].startswith("/office/login/")


def test_operator_of_the_organisation_downloads_the_record(operator_client, granted):
    response = operator_client.get(f"/office/consents/{granted.pk}/artifacts/grant.pdf")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert b"".join(response.streaming_content) == pdf_of(granted)


def test_foreign_operator_gets_404(other_operator_client, granted):
    assert other_operator_client.get(f"/office/consents/{granted.pk}/artifacts/grant.pdf").status_code == 404


def test_the_download_selector_finds_only_consents_of_the_operators_organisations(granted, operator, other_operator):
    from django.http import Http404

    from consent.selectors import consent_get_for_member

    assert consent_get_for_member(user=operator, consent_id=granted.pk) == granted
    with pytest.raises(Http404):
        consent_get_for_member(user=other_operator, consent_id=granted.pk)


def test_an_operator_of_two_organisations_downloads_whichever_one_the_office_remembers(
    operator_client, operator, other_organization, granted
):
    from identity.models import Membership
    from identity.services import membership_set

    membership_set(actor="test", user=operator, organization=other_organization, role=Membership.Role.VIEWER)
    assert operator_client.get(f"/office/requests/?org={other_organization.pk}").status_code == 200
    response = operator_client.get(f"/office/consents/{granted.pk}/artifacts/grant.pdf")
    assert response.status_code == 200 and b"".join(response.streaming_content) == pdf_of(granted)


# ---- public verification ----------------------------------------------------------------------


def upload(client, data: bytes, name: str = "record.pdf"):
    return client.post(
        "/verify/", {"file": SimpleUploadedFile(name, data, "application/pdf")}, HTTP_ACCEPT_LANGUAGE="en"
    )


def problems(response) -> list[str]:
    return re.findall(r'data-problem="([a-z_]+)"', response.content.decode())


def flip_one_signed_byte(data: bytes) -> bytes:
    start, length = (int(n) for n in re.search(rb"/ByteRange \[\s*(\d+)\s+(\d+)", data).groups())
    position = start + length // 2
    changed = bytearray(data)
    changed[position] ^= 0x01
    return bytes(changed)


def run_command(path) -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("verify_artifact", str(path), stdout=out)
    except CommandError as exc:
        return exc.returncode, out.getvalue()
    return 0, out.getvalue()


def test_the_issued_record_is_valid_on_the_page_and_the_command(client, granted, tmp_path):
    data = pdf_of(granted)
    response = upload(client, data)
    assert response.status_code == 200
    report = response.context["report"]
    assert report.valid and report.stored_copy and report.kind == "grant"
    assert report.status.state == "active" and report.status.consent_id == granted.pk
    body = response.content.decode()
    assert 'data-valid="yes"' in body and "state-active" in body
    assert granted.organization.name in body
    path = tmp_path / "record.pdf"
    path.write_bytes(data)
    code, out = run_command(path)
    assert code == 0, out
    assert "VALID" in out and f"consent #{granted.pk}" in out and "state now: active" in out


def test_flipping_one_signed_byte_makes_the_page_and_the_command_say_invalid(client, granted, tmp_path):
    tampered = flip_one_signed_byte(pdf_of(granted))
    response = upload(client, tampered)
    assert response.context["report"].valid is False
    body = response.content.decode()
    assert 'data-valid="no"' in body
    assert problems(response) == ["signature_broken"]
    assert "state-active" not in body  # nothing about the consent from a broken file
    path = tmp_path / "tampered.pdf"
    path.write_bytes(tampered)
    code, out = run_command(path)
    assert code == 1
    assert "signature_broken" in out


def test_content_appended_after_signing_is_not_valid(granted):
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf_of(granted)))
    writer.root["/Lang"] = writer.root.get("/Lang", "zh-Hans")
    writer.update_root()
    out = io.BytesIO()
    writer.write(out)
    assert [p.value for p in artifact_verify(out.getvalue()).problems] == ["not_whole_file"]


def test_a_record_signed_with_another_certificate_is_not_ours(db):
    ca_pem, cert_pem, key_pem = _dev_certificates()
    pdf = html_to_pdfa("<p>同意 consent</p>")
    with override_settings(ARTIFACT_SIGNING_CERT=(cert_pem + ca_pem).decode(), ARTIFACT_SIGNING_KEY=key_pem.decode()):
        foreign = pdf_sign(pdf, reason="forgery")
    assert [p.value for p in artifact_verify(foreign).problems] == ["not_our_signer"]
    assert [p.value for p in artifact_verify(pdf).problems] == ["unsigned"]


def test_garbage_and_truncated_files_are_answers_not_errors(granted):
    data = pdf_of(granted)
    assert [p.value for p in artifact_verify(b"%PDF-1.7\ngarbage").problems] == ["not_pdf"]
    assert [p.value for p in artifact_verify(b"GIF89a").problems] == ["not_pdf"]
    truncated = artifact_verify(data[: len(data) // 2]).problems
    assert len(truncated) == 1 and truncated[0].value in ("not_pdf", "unsigned", "signature_broken")


def test_a_receipt_that_differs_from_our_record_is_not_valid(granted):
    consent = _load(granted.pk)
    terms = json.loads(consent.terms_json)
    terms["purpose"] = "Something else entirely"
    consent.terms_json = json.dumps(terms)  # in memory only: what a forger with our key would have to do
    report = artifact_verify(artifact_build(consent, "grant"))
    assert [p.value for p in report.problems] == ["receipt_mismatch"]


def test_a_revoked_consent_shows_as_withdrawn_when_its_record_is_checked(client, pat, granted):
    services.consent_revoke(person=pat.person, consent_id=granted.pk)
    response = upload(client, pdf_of(granted))
    assert response.context["report"].valid
    assert response.context["report"].status.state == "revoked"
    assert "state-revoked" in response.content.decode()


# ---- the form ---------------------------------------------------------------------------------


def file_error_codes(response) -> list[str]:
    return [error.code for error in response.context["form"].errors.as_data()["file"]]


def test_no_file_is_an_inline_error(client):
    response = client.post("/verify/", {}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    assert file_error_codes(response) == ["required"]
    assert "Choose the PDF file to check." in response.content.decode()


def test_a_file_that_is_not_a_pdf_is_an_inline_error(client):
    response = upload(client, png_bytes(), name="photo.pdf")
    assert file_error_codes(response) == ["not_pdf"]
    assert response.context["report"] is None


def test_a_file_over_the_limit_is_refused_before_it_is_stored(client):
    response = upload(client, b"%PDF-1.7\n" + b"0" * MAX_UPLOAD_BYTES)
    assert response.status_code == 200
    assert file_error_codes(response) == ["too_big"]
    assert response.context["form"].too_big  # cut off while reading, not after storing it all
    assert "10 MB" in response.content.decode()


def test_the_upload_page_needs_the_csrf_token(db):
    response = Client(enforce_csrf_checks=True).post("/verify/", {"file": SimpleUploadedFile("a.pdf", b"%PDF-")})
    assert response.status_code == 403


# ---- the QR target ----------------------------------------------------------------------------


def test_status_page_shows_state_organisation_modality_and_validity_only(
    client, granted, django_assert_max_num_queries
):
    with django_assert_max_num_queries(1):
        response = client.get(f"/verify/{granted.public_id}", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    body = response.content.decode()
    assert "state-active" in body and granted.organization.name in body
    assert "face" in body
    for personal in (
        granted.person.legal_name_masked,
        granted.person.id_number_masked,
        granted.person.phone,
        PERSON_ID,
    ):
        assert personal not in body


def test_status_page_says_expired_once_validity_has_passed(client, granted):
    with time_machine.travel(granted.valid_until + timedelta(days=1)):
        body = client.get(f"/verify/{granted.public_id}").content.decode()
    assert "state-expired" in body


def test_status_of_an_unknown_consent_is_404(client, granted):
    assert client.get("/verify/999999").status_code == 404
    assert client.get(f"/verify/{granted.pk}").status_code == 404  # sequential ids lead nowhere
    assert client.get("/verify/00000000-0000-4000-8000-000000000000").status_code == 404


def test_a_guardians_consent_for_a_child_names_the_guardian_in_the_record(pending_request):
    from identity.services import guardian_verify, person_for_phone

    child = person_identity_verify(
        person=person_for_phone(phone=pending_request.person_phone),
        legal_name="张小明",
        id_number=valid_id_number("11010520150601003"),
    )
    guardian = guardian_verify(child=child, legal_name=PERSON_NAME, id_number=PERSON_ID, relationship="parent")
    services.request_open(person=child, code=pending_request.code)
    consent = consent_grant(actor=child, item_id=pending_request.items.get(position=1).pk)
    assert consent.guardian_id == guardian.pk
    text = re.sub(r"\s+", "", pypdf.PdfReader(io.BytesIO(pdf_of(consent))).pages[0].extract_text())
    assert "监护人" in text and guardian.legal_name_masked in text and guardian.id_number_masked in text
    assert "父母" in text
    receipt = json.loads(pypdf.PdfReader(io.BytesIO(pdf_of(consent))).attachments["receipt.json"][0])
    assert receipt["x-likeness"]["guardian"] is True


def local_tsa_material():
    """An RSA time-stamping certificate (pyHanko's dummy TSA signs with RSA only)."""
    from datetime import UTC, datetime

    from asn1crypto import keys, x509
    from cryptography import x509 as cx509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = cx509.Name([cx509.NameAttribute(NameOID.COMMON_NAME, "test TSA")])
    now = datetime.now(UTC)
    cert = (
        cx509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(cx509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .sign(key, hashes.SHA256())
    )
    der = serialization.Encoding.DER
    pkcs8 = key.private_bytes(der, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return x509.Certificate.load(cert.public_bytes(der)), keys.PrivateKeyInfo.load(pkcs8)


def test_with_a_timestamp_authority_configured_the_signature_is_pades_b_t(settings, monkeypatch):
    from pyhanko.sign.timestamps import DummyTimeStamper

    import consent.records.sign

    tsa_cert, tsa_key = local_tsa_material()
    urls = []

    def local_tsa(url):  # stands in for the TSA's HTTP endpoint
        urls.append(url)
        return DummyTimeStamper(tsa_cert=tsa_cert, tsa_key=tsa_key)

    monkeypatch.setattr(consent.records.sign.timestamps, "HTTPTimeStamper", local_tsa)
    settings.ARTIFACT_TSA_URL = "http://tsa.example.test/"
    signed = pdf_sign(html_to_pdfa("<p>同意</p>"), reason="test")
    (signature,) = PdfFileReader(io.BytesIO(signed)).embedded_signatures
    unsigned = [attr["type"].native for attr in signature.signer_info["unsigned_attrs"]]
    assert urls == ["http://tsa.example.test/"]
    assert "signature_time_stamp_token" in unsigned
    # The signature itself still checks out (this test PDF simply carries no receipt).
    assert [p.value for p in artifact_verify(signed).problems] == ["no_receipt"]


def test_development_signing_material_is_made_once_under_var_dir(settings, tmp_path):
    import stat

    from cryptography import x509 as cx509
    from cryptography.hazmat.primitives.serialization import Encoding

    settings.VAR_DIR = tmp_path
    settings.ARTIFACT_SIGNING_CERT = settings.ARTIFACT_SIGNING_KEY = ""
    first = signing_material()
    folder = tmp_path / "artifact-signing"
    assert stat.S_IMODE((folder / "signing-key.pem").stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    ca = cx509.load_pem_x509_certificate((folder / "ca.pem").read_bytes())
    leaf = cx509.load_pem_x509_certificate((folder / "signing.pem").read_bytes())
    leaf.verify_directly_issued_by(ca)
    assert first.trust_roots[0].dump() == ca.public_bytes(Encoding.DER)
    assert first.certificate.dump() == leaf.public_bytes(Encoding.DER)
    assert signing_material() is first  # read back, not made again
    assert not list(tmp_path.glob("*.tmp"))
