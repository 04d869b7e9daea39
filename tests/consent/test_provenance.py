"""Label real files with the client and check them publicly: PNG, JPEG, WAV, MP3 and MP4 made in the test."""

import hashlib
import json
from datetime import UTC, datetime, timedelta

import av
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from likeness_consent_client import label_file, perceptual_hash
from rest_framework.test import APIClient

from consent import services
from consent.builders import build_granted_consent
from tests.consent.media import WRITERS, write_jpeg, write_png
from tests.consent.test_outputs import api, register, verify

pytestmark = pytest.mark.django_db


@pytest.fixture
def face(organization, operator, pat_verified):
    return build_granted_consent(person=pat_verified, actor=operator, organization=organization)


@pytest.fixture
def voice(organization, operator, pat_verified):
    return build_granted_consent(person=pat_verified, actor=operator, organization=organization, position=2)


def generate_and_register(service, consent, path, media_type) -> dict:
    """What a generation service does: verify → (generate) → register → label."""
    presentation_id = verify(service, consent)["presentation_id"]
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    response = register(
        service, presentation_id, sha256=digest, media_type=media_type, perceptual_hash=perceptual_hash(path) or ""
    )
    assert response.status_code == 201, response.json()
    return response.json()


def check(path) -> dict:
    with path.open("rb") as handle:
        response = APIClient().post("/api/v1/provenance", {"file": handle}, format="multipart")
    assert response.status_code == 200, response.content
    return response.json()


@pytest.mark.parametrize("extension", list(WRITERS))
def test_a_labelled_file_is_recognised_with_its_consent_state_and_withdrawal_flips_it(
    extension, organization, face, voice, tmp_path
):
    write, media_type = WRITERS[extension]
    consent = voice if media_type.startswith("audio/") else face
    path = write(tmp_path / f"output.{extension}")
    original = path.read_bytes()
    answer = generate_and_register(api(organization), consent, path, media_type)

    assert label_file(path, answer) == media_type
    assert path.read_bytes() != original
    report = check(path)
    assert report["media_type"] == media_type
    assert report["registered"] is True and report["exact_file_registered"] is False
    (found,) = report["outputs"]
    assert found["receipt_id"] == answer["receipt_id"]
    assert set(found["matched_by"]) == {"aigc_label", "receipt"}
    assert found["consent_state"] == "active" and found["receipt_valid"] is True
    assert found["organization"] == organization.name
    assert report["aigc_label"] == answer["aigc_label"]["AIGC"] and report["aigc_label_recognised"] is True
    assert report["embedded_receipt_valid"] is True
    if media_type.startswith(("image/", "video/")):
        assert found["perceptual_distance"] is not None and found["perceptual_distance"] <= 6

    services.consent_revoke(person=consent.person, consent_id=consent.pk)
    (found,) = check(path)["outputs"]
    assert found["consent_state"] == "withdrawn" and found["consent_withdrawn_at"]

    (tmp_path / "original").write_bytes(original)
    exact = check(tmp_path / "original")
    assert exact["exact_file_registered"] is True and exact["outputs"][0]["matched_by"] == ["sha256"]


@pytest.mark.parametrize("extension", ["mp3", "mp4"])
def test_ffmpeg_reads_the_label_the_client_wrote(extension, organization, face, voice, tmp_path):
    """An independent reader (FFmpeg's demuxers, through PyAV) sees the AIGC key mutagen wrote."""
    write, media_type = WRITERS[extension]
    path = write(tmp_path / f"output.{extension}")
    answer = generate_and_register(api(organization), voice if extension == "mp3" else face, path, media_type)
    label_file(path, answer)
    with av.open(str(path)) as container:
        metadata = {key.upper(): value for key, value in container.metadata.items()}
    assert json.loads(metadata["AIGC"]) == answer["aigc_label"]["AIGC"]


def test_a_similar_image_is_reported_as_similar_never_as_registered(organization, face, tmp_path):
    path = write_png(tmp_path / "output.png")
    answer = generate_and_register(api(organization), face, path, "image/png")
    from PIL import Image

    Image.open(path).convert("RGB").save(tmp_path / "copy.jpg", "JPEG", quality=70)  # re-encoded, no label
    report = check(tmp_path / "copy.jpg")
    assert report["registered"] is False and report["outputs"] == []
    (similar,) = report["similar"]
    assert similar["receipt_id"] == answer["receipt_id"] and similar["matched_by"] == ["similar"]
    unrelated = check(write_jpeg(tmp_path / "other.jpg", seed=9))
    assert unrelated["similar"] == []


def test_a_copied_label_naming_an_unknown_receipt_is_not_recognised(organization, face, tmp_path):
    path = write_png(tmp_path / "output.png")
    answer = generate_and_register(api(organization), face, path, "image/png")
    forged = {
        **answer,
        "aigc_label": {"AIGC": {**answer["aigc_label"]["AIGC"], "ProduceID": "00000000-0000-4000-8000-000000000000"}},
    }
    header, payload, signature = answer["receipt"].split(".")
    forged["receipt"] = f"{header}.{payload}.{signature[::-1]}"  # a receipt whose signature does not verify
    other = write_png(tmp_path / "other.png", seed=5)
    label_file(other, forged)
    report = check(other)
    assert report["aigc_label_recognised"] is False and report["embedded_receipt_valid"] is False
    assert report["registered"] is False and report["outputs"] == []


def test_a_hash_check_answers_without_personal_data(organization, face, tmp_path, client):
    path = write_png(tmp_path / "output.png")
    generate_and_register(api(organization), face, path, "image/png")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    response = APIClient().get("/api/v1/provenance", {"sha256": digest.upper()})
    assert response.status_code == 200
    body = response.content.decode()
    assert response.json()["exact_file_registered"] is True
    person = face.person
    for secret in (person.phone, person.legal_name, person.id_number):
        assert secret not in body

    def pairs(value, key=""):
        if isinstance(value, dict):
            for name, item in value.items():
                yield from pairs(item, name)
        elif isinstance(value, list):
            for item in value:
                yield from pairs(item, key)
        else:
            yield key, value

    answer = list(pairs(response.json()))
    assert not [key for key, _v in answer if key in ("cid", "consent_id", "person", "person_id", "phone")]
    assert not [key for key, value in answer if "consent" in key and value in (face.pk, str(face.pk))]
    bad = APIClient().get("/api/v1/provenance", {"sha256": "abc"})
    assert bad.status_code == 400 and bad.json()["code"] == "invalid" and "sha256" in bad.json()["fields"]


def test_a_file_above_the_limit_is_refused_by_name(settings):
    settings.PROVENANCE_CHECK_MAX_BYTES = 100
    upload = SimpleUploadedFile("big.png", b"x" * 200, content_type="image/png")
    response = APIClient().post("/api/v1/provenance", {"file": upload}, format="multipart")
    assert response.status_code == 413 and response.json()["code"] == "file_too_large"


def test_the_public_page_checks_a_hash_and_a_file_and_says_what_it_found(organization, face, tmp_path, client):
    path = write_png(tmp_path / "output.png")
    answer = generate_and_register(api(organization), face, path, "image/png")
    label_file(path, answer)
    assert client.get("/provenance/").status_code == 200
    page = client.post("/provenance/", {"sha256": "0" * 64}).content.decode()
    assert "Not registered" in page
    with path.open("rb") as handle:
        page = client.post("/provenance/", {"file": handle}).content.decode()
    assert "Labelled" in page and answer["receipt_id"] in page and organization.name in page
    assert "consent active" in page and face.person.phone not in page
    services.consent_revoke(person=face.person, consent_id=face.pk)
    page = client.get(f"/provenance/r/{answer['receipt_id']}").content.decode()
    assert "consent withdrawn" in page
    assert client.get("/provenance/r/00000000-0000-4000-8000-000000000000").status_code == 404
    assert client.get("/provenance/r/not-a-uuid").status_code == 404


def test_the_public_page_names_what_is_wrong_with_the_input(client, settings):
    assert "Choose a file to check, or paste its SHA-256." in client.post("/provenance/", {}).content.decode()
    assert "64 hexadecimal digits" in client.post("/provenance/", {"sha256": "xyz"}).content.decode()
    settings.PROVENANCE_CHECK_MAX_BYTES = 100
    big = SimpleUploadedFile("big.png", b"x" * 200, content_type="image/png")
    assert "The file is too big" in client.post("/provenance/", {"file": big}).content.decode()


# ---- C2PA -----------------------------------------------------------------------------------------


def c2pa_credentials():
    """A throw-away CA and an ES256 signing certificate with the key usages C2PA asks of a signer."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    from likeness_consent_client import C2paCredentials

    now = datetime.now(UTC)
    usage = {
        k: False
        for k in (
            "content_commitment",
            "key_encipherment",
            "data_encipherment",
            "key_agreement",
            "encipher_only",
            "decipher_only",
        )
    }

    def certificate(subject, issuer, public_key, signing_key, *, ca):
        builder = (
            x509.CertificateBuilder()
            .subject_name(
                x509.Name(
                    [
                        x509.NameAttribute(NameOID.COMMON_NAME, subject),
                        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Test generator"),
                    ]
                )
            )
            .issuer_name(
                x509.Name(
                    [
                        x509.NameAttribute(NameOID.COMMON_NAME, issuer),
                        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Test generator"),
                    ]
                )
            )
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=ca, crl_sign=ca, **usage), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        )
        if not ca:
            builder = builder.add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False
            ).add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(signing_key.public_key()), critical=False
            )
        return builder.sign(signing_key, hashes.SHA256())

    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = certificate("Test CA", "Test CA", ca_key.public_key(), ca_key, ca=True)
    leaf = certificate("Test signer", "Test CA", key.public_key(), ca_key, ca=False)
    pem = serialization.Encoding.PEM
    return C2paCredentials(
        certificate_chain_pem=leaf.public_bytes(pem) + ca.public_bytes(pem),
        private_key_pem=key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
    )


@pytest.mark.parametrize("extension", ["png", "mp4"])
def test_a_c2pa_manifest_signed_by_the_client_is_read_and_leads_to_the_receipt(extension, organization, face, tmp_path):
    c2pa = pytest.importorskip("c2pa", reason="c2pa-python (the `c2pa` extra) is not installed")
    write, media_type = WRITERS[extension]
    path = write(tmp_path / f"output.{extension}")
    answer = generate_and_register(api(organization), face, path, media_type)
    label_file(path, answer, c2pa_credentials=c2pa_credentials())

    with c2pa.Reader(media_type, path.open("rb")) as reader:  # the C2PA SDK's own reading, outside our code
        manifest = reader.get_active_manifest()
    ours = next(a["data"] for a in manifest["assertions"] if a["label"] == "org.likeness-consent.provenance")
    assert ours["receipt_id"] == answer["receipt_id"] and ours["check_url"] == answer["check_url"]
    report = check(path)
    assert report["c2pa"]["state"] in ("Valid", "Trusted") and report["c2pa"]["ai_generated"] is True
    assert report["c2pa"]["failures"] == ["signingCredential.untrusted"]  # a test CA, in no trust list
    assert set(report["outputs"][0]["matched_by"]) == {"aigc_label", "receipt", "c2pa"}


def test_the_similar_search_finds_exactly_what_a_scan_of_every_hash_finds(organization, face, tmp_path, monkeypatch):
    import random

    from consent.builders import build_outputs_like
    from consent.models import Output
    from consent.provenance import check as provenance

    generate_and_register(api(organization), face, write_png(tmp_path / "output.png"), "image/png")
    base = Output.objects.get()
    rng = random.Random(7)
    query = rng.getrandbits(64)
    hashes = []
    for _ in range(400):  # near and far neighbours: 0 to 11 bits flipped, then unrelated hashes
        near = query
        for bit in rng.sample(range(64), rng.randrange(12)):
            near ^= 1 << bit
        hashes.append(f"{near:016x}")
    hashes += [f"{rng.getrandbits(64):016x}" for _ in range(200)]
    build_outputs_like(base, hashes)
    monkeypatch.setattr(provenance, "SIMILAR_LIMIT", 10_000)
    scan = sorted(
        ((int(o.perceptual_hash, 16) ^ query).bit_count(), o.pk)
        for o in Output.objects.all()
        if (int(o.perceptual_hash, 16) ^ query).bit_count() <= 6
    )
    assert len(scan) > 100  # the scan finds many, so the comparison means something
    report = provenance.ProvenanceReport(sha256="")
    provenance._similar(report, f"{query:016x}")
    assert [(finding.distance, finding.output.pk) for finding in report.similar] == scan
