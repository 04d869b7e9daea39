"""PAdES signatures on consent artifacts with the platform's ECDSA P-256 certificate (pyHanko).

Production reads the PEM certificate (optionally followed by its issuing chain, root last) from
ARTIFACT_SIGNING_CERT and the PEM private key from ARTIFACT_SIGNING_KEY. When they are not set
(development: settings refuse to start without them otherwise), a self-signed CA and a signing
certificate issued by it are generated under VAR_DIR on first use, so that a fresh checkout signs
without preparation. The key is P-256 because poppler, NSS and Acrobat verify it;
Ed25519 PDF signatures are not widely verifiable yet.
"""

import asyncio
import contextlib
import io
import logging
import os
import secrets
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache, cached_property
from pathlib import Path

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.metadata.model import VENDOR as PYHANKO_PRODUCER
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers, timestamps
from pyhanko.sign.signers.constants import ESIC_EXTENSION_1
from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes
from pyhanko.sign.validation import SignatureCoverageLevel, validate_pdf_signature
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

logger = logging.getLogger(__name__)

# The signing revision sets XMP pdf:Producer to exactly this and keeps an Info /Producer that already
# names it: a record rendered with this Producer reads the same in both places once signed.
PRODUCER = PYHANKO_PRODUCER

DEV_DIR_NAME = "artifact-signing"
FIELD_NAME = "ConsentRecordSignature"
DOCUMENT_SIGNING = ObjectIdentifier("1.3.6.1.5.5.7.3.36")  # id-kp-documentSigning, RFC 9336
# NSS (and so poppler's pdfsig, Evince, Okular, Firefox) trusts a signer only for the usages it knows;
# for a document signature it accepts id-kp-emailProtection, not (yet) id-kp-documentSigning. Document
# signing CAs therefore issue both, plus Adobe's "Authentic Documents Trust" EKU, which Acrobat honours.
EMAIL_PROTECTION = ExtendedKeyUsageOID.EMAIL_PROTECTION
ADOBE_AUTHENTIC_DOCUMENTS = ObjectIdentifier("1.2.840.113583.1.1.5")
SIGNING_EKUS = (DOCUMENT_SIGNING, EMAIL_PROTECTION, ADOBE_AUTHENTIC_DOCUMENTS)


@dataclass(frozen=True)
class SigningMaterial:
    certificate: asn1_x509.Certificate
    chain: tuple[asn1_x509.Certificate, ...]  # issuers of `certificate`, root last; may be empty
    key: asn1_keys.PrivateKeyInfo

    @property
    def trust_roots(self) -> list[asn1_x509.Certificate]:
        """What a signature must chain to: the root of the configured chain, or the certificate itself."""
        return [self.chain[-1] if self.chain else self.certificate]

    # The two below are derived once per material: a new certificate or key (rotation, or new development
    # material) is a new SigningMaterial from `_load`, with its own.

    @cached_property
    def signer(self) -> signers.SimpleSigner:
        return signers.SimpleSigner(
            signing_cert=self.certificate,
            signing_key=self.key,
            cert_registry=SimpleCertificateStore.from_certs(list(self.chain)),
        )

    @cached_property
    def signature_space(self) -> int:
        """Bytes to reserve in a PDF for one signature by this material without a timestamp.

        pyHanko's own estimate (the length of a dry-run CMS with the same certificates and signed
        attributes, doubled for its hex form, plus half again), which it would otherwise
        redo before every signature: two fifths of the signing time.
        """
        digest = hashes.Hash(hashes.SHA256()).finalize()
        dry_run = asyncio.run(
            self.signer.async_sign(
                digest,
                "sha256",
                use_pades=True,
                dry_run=True,
                signed_attr_settings=PdfCMSSignedAttributes(signing_time=datetime.now(UTC)),
            )
        )
        hex_length = len(dry_run.dump()) * 2
        return hex_length + 2 * (hex_length // 4)


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Likeness consent service (development)"),
        ]
    )


def _dev_certificates() -> tuple[bytes, bytes, bytes]:
    """A development CA (whose key is thrown away) and a signing certificate it issued: (ca, cert, key) PEM."""
    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("Likeness consent development CA")
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("Likeness consent artifact signing (development)"))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage(list(SIGNING_EKUS)), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    pem = serialization.Encoding.PEM
    return ca.public_bytes(pem), cert.public_bytes(pem), key_pem


def _has_signing_ekus(cert_pem: bytes) -> bool:
    try:
        usages = x509.load_pem_x509_certificate(cert_pem).extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    except (ValueError, x509.ExtensionNotFound):
        return False
    return set(SIGNING_EKUS) <= set(usages.value)


def _retire_dev_material(folder: Path) -> None:
    """Move development material issued before SIGNING_EKUS aside (kept, so old dev records stay checkable)."""
    with contextlib.suppress(OSError):  # another process moved it first
        folder.rename(folder.with_name(f"{DEV_DIR_NAME}.retired-{secrets.token_hex(4)}"))


def _dev_material_pem() -> tuple[bytes, bytes]:
    """(certificate + chain PEM, key PEM) from VAR_DIR, generated on first use.

    The three files are written into a private temporary folder that is then renamed into place in one
    step, so two processes starting together agree on one CA and one key (the loser's rename fails).
    """
    folder = Path(settings.VAR_DIR) / DEV_DIR_NAME
    if (folder / "signing.pem").exists() and not _has_signing_ekus((folder / "signing.pem").read_bytes()):
        _retire_dev_material(folder)
    if not (folder / "signing-key.pem").exists():
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = folder.with_name(f"{DEV_DIR_NAME}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        tmp.mkdir(mode=0o700)
        ca_pem, cert_pem, key_pem = _dev_certificates()
        (tmp / "ca.pem").write_bytes(ca_pem)
        (tmp / "signing.pem").write_bytes(cert_pem)
        key_path = tmp / "signing-key.pem"
        key_path.touch(mode=0o600)
        key_path.write_bytes(key_pem)
        try:
            tmp.rename(folder)
        except OSError:  # another process won the race: use its material
            shutil.rmtree(tmp, ignore_errors=True)
    return (folder / "signing.pem").read_bytes() + (folder / "ca.pem").read_bytes(), (
        folder / "signing-key.pem"
    ).read_bytes()


def _configured_pem() -> tuple[bytes, bytes]:
    cert_pem = getattr(settings, "ARTIFACT_SIGNING_CERT", "")
    key_pem = getattr(settings, "ARTIFACT_SIGNING_KEY", "")
    if cert_pem and key_pem:
        return cert_pem.encode(), key_pem.encode()
    if cert_pem or key_pem:
        raise ImproperlyConfigured("ARTIFACT_SIGNING_CERT and ARTIFACT_SIGNING_KEY must be set together.")
    # As with PLATFORM_SIGNING_KEY, settings refuse to start without them unless DJANGO_DEBUG is on; the
    # check is not repeated here because tests run with DEBUG forced off and the development material.
    return _dev_material_pem()


@cache
def _load(cert_pem: bytes, key_pem: bytes) -> SigningMaterial:
    certs = x509.load_pem_x509_certificates(cert_pem)
    key = serialization.load_pem_private_key(key_pem, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ImproperlyConfigured("ARTIFACT_SIGNING_KEY must be an ECDSA P-256 private key in PEM form.")
    if certs[0].public_key() != key.public_key():
        raise ImproperlyConfigured("ARTIFACT_SIGNING_KEY does not belong to the first ARTIFACT_SIGNING_CERT.")
    der = serialization.Encoding.DER
    pkcs8 = key.private_bytes(der, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return SigningMaterial(
        certificate=asn1_x509.Certificate.load(certs[0].public_bytes(der)),
        chain=tuple(asn1_x509.Certificate.load(c.public_bytes(der)) for c in certs[1:]),
        key=asn1_keys.PrivateKeyInfo.load(pkcs8),
    )


def signing_material() -> SigningMaterial:
    return _load(*_configured_pem())


def validation_context(material: SigningMaterial | None = None) -> ValidationContext:
    """Trust only our own root; no network fetching (our certificates carry no revocation pointers)."""
    material = material or signing_material()
    return ValidationContext(
        trust_roots=material.trust_roots,
        other_certs=list(material.chain),
        allow_fetching=False,
        revocation_mode="soft-fail",
    )


class _Pdf17Signer(signers.PdfSigner):
    """Keep the record a PDF 1.7 document, as PDF/A-3 requires.

    pyHanko registers the ISO 32002 extension for ECDSA P-256 keys, which raises the document to PDF 2.0;
    PAdES signatures with ECDSA in PDF 1.7 only need the ETSI (ESIC) extension, so register just that.
    """

    def register_extensions(self, pdf_out, *, md_algorithm: str):
        pdf_out.ensure_output_version(version=(1, 7))
        pdf_out.register_extension(ESIC_EXTENSION_1)


def pdf_sign(pdf: bytes, *, reason: str, location: str = "") -> bytes:
    """Sign a PDF with one invisible PAdES signature: baseline B, or B-T when ARTIFACT_TSA_URL is set.

    The signature is an incremental update, so the PDF/A-3 document and its attachment stay as they are.
    The invisible widget is printable and not hidden, as PDF/A requires of annotations.
    """
    material = signing_material()
    tsa_url = getattr(settings, "ARTIFACT_TSA_URL", "")
    timestamper = timestamps.HTTPTimeStamper(tsa_url) if tsa_url else None
    meta = signers.PdfSignatureMetadata(
        field_name=FIELD_NAME,
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
        reason=reason,
        location=location or None,
        signer_key_usage={"digital_signature"},
    )
    field_spec = fields.SigFieldSpec(
        FIELD_NAME,
        invis_sig_settings=fields.InvisSigSettings(set_print_flag=True, set_hidden_flag=False),
    )
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    pdf_signer = _Pdf17Signer(meta, material.signer, timestamper=timestamper, new_field_spec=field_spec)
    # A timestamp token's size depends on the authority's answer: pyHanko then estimates it each time.
    out = pdf_signer.sign_pdf(writer, bytes_reserved=None if timestamper else material.signature_space)
    return out.getvalue()


@dataclass
class SignatureCheck:
    problem: str = ""  # an artifacts.Problem value, or "" when the signature holds
    root: object = None  # the document catalogue, for reading the signed content
    signed_at: datetime | None = None
    signer: str = ""


def signature_check(data: bytes) -> SignatureCheck:
    """Is `data` a PDF whose one signature is intact, covers the whole file and chains to our root?"""
    if not data.startswith(b"%PDF-"):
        return SignatureCheck(problem="not_pdf")
    # Anyone can upload anything here: whatever a malformed file makes the parser raise is an answer
    # ("not a readable PDF", "broken signature"), never a server error.
    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        signatures = reader.embedded_signatures
    except Exception as exc:
        logger.info("unreadable PDF: %r", exc)
        return SignatureCheck(problem="not_pdf")
    if not signatures:
        return SignatureCheck(problem="unsigned")
    try:  # the first signature is ours; anything signed or added after it shows as partial coverage
        status = validate_pdf_signature(signatures[0], validation_context(), skip_diff=True)
    except Exception as exc:
        logger.info("signature not validated: %r", exc)
        return SignatureCheck(problem="signature_broken")
    if not (status.intact and status.valid):
        return SignatureCheck(problem="signature_broken")
    if not status.trusted:
        return SignatureCheck(problem="not_our_signer")
    if status.coverage != SignatureCoverageLevel.ENTIRE_FILE:
        return SignatureCheck(problem="not_whole_file")
    return SignatureCheck(
        root=reader.root,
        signed_at=status.signer_reported_dt,
        signer=status.signing_cert.subject.human_friendly,
    )
