"""What a record's render and signature keep per process (font configuration, signer, signature space), and
that nothing kept outlives what it was made from: a new certificate signs at once, a longer chain still fits,
and records made one after another by one process each carry their own text."""

import io
import threading
from datetime import UTC, datetime, timedelta

import pypdf
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.test import override_settings
from pyhanko.pdf_utils.reader import PdfFileReader

from consent.records.render import artifact_verify, font_config, html_to_pdfa
from consent.records.sign import _dev_certificates, pdf_sign, signing_material

pytestmark = [pytest.mark.django_db, pytest.mark.pdf]


def signer_der(pdf: bytes) -> bytes:
    (signature,) = PdfFileReader(io.BytesIO(pdf)).embedded_signatures
    return signature.signer_cert.dump()


def der_of(pem: bytes) -> bytes:
    return x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER)


def bulky_certificate(names: int) -> bytes:
    """A self-signed certificate made large by its alternative names: PEM."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "intermediate of a long chain")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(f"host-{i}.records.example.test") for i in range(names)]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def test_a_new_signing_certificate_signs_the_very_next_record():
    pdf = html_to_pdfa("<p>同意 consent</p>")
    ours = pdf_sign(pdf, reason="before")
    ca_pem, cert_pem, key_pem = _dev_certificates()
    with override_settings(ARTIFACT_SIGNING_CERT=(cert_pem + ca_pem).decode(), ARTIFACT_SIGNING_KEY=key_pem.decode()):
        rotated = pdf_sign(pdf, reason="after")
    again = pdf_sign(pdf, reason="back")
    assert signer_der(rotated) == der_of(cert_pem)
    assert signer_der(ours) == signer_der(again) == signing_material().certificate.dump()
    assert signer_der(ours) != signer_der(rotated)


def test_a_long_certificate_chain_still_fits_the_space_reserved_for_the_signature():
    ca_pem, cert_pem, key_pem = _dev_certificates()
    extra = bulky_certificate(300) + bulky_certificate(300)  # ~20 KB of certificates the CMS must carry
    chain_pem = cert_pem + extra + ca_pem
    pdf = html_to_pdfa("<p>同意 consent</p>")
    with override_settings(ARTIFACT_SIGNING_CERT=chain_pem.decode(), ARTIFACT_SIGNING_KEY=key_pem.decode()):
        small = signing_material()
        signed = pdf_sign(pdf, reason="long chain")
        # The signature holds and chains to this material's root (the test page carries no receipt).
        assert [p.value for p in artifact_verify(signed).problems] == ["no_receipt"]
    (signature,) = PdfFileReader(io.BytesIO(signed)).embedded_signatures
    assert len(signature.signed_data["certificates"]) == 4
    assert small.signature_space > 2 * 20_000


def test_each_thread_keeps_its_own_font_configuration():
    mine = font_config()
    theirs = []
    worker = threading.Thread(target=lambda: theirs.append(font_config()))
    worker.start()
    worker.join()
    assert font_config() is mine
    assert theirs[0] is not mine


def test_records_rendered_one_after_another_each_carry_their_own_text():
    first = html_to_pdfa("<p>第一份记录 first record <code>aa11</code></p>")
    second = html_to_pdfa("<p>撤回同意记录 second record <code>bb22</code></p>")
    first_again = html_to_pdfa("<p>第一份记录 first record <code>aa11</code></p>")

    def text(pdf: bytes) -> str:
        return "".join(pypdf.PdfReader(io.BytesIO(pdf)).pages[0].extract_text().split())

    assert text(first) == text(first_again) == "第一份记录firstrecordaa11"
    assert text(second) == "撤回同意记录secondrecordbb22"
