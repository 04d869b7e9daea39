"""Signed PDF records of consents and withdrawals: render (WeasyPrint, PDF/A-3b), sign (pdfsign), verify.

A record is bilingual (Chinese first, English below), embeds the consent's canonical JSON receipt as
`receipt.json`, and is signed by the platform; `artifact_verify` checks all of it for the public
verify page and the `verify_artifact` command.
"""

import hashlib
import json
import logging
import ssl
import threading
from dataclasses import dataclass, field
from datetime import datetime

import pydyf
import segno
from django.conf import settings
from django.db.models import TextChoices
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from weasyprint import HTML, Attachment, URLFetcher
from weasyprint import __version__ as weasyprint_version
from weasyprint.text.fonts import FontConfiguration

from audit.canonical import canonical_json
from consent.models import Artifact, Consent
from consent.records.fonts import compact_cid_fonts
from consent.records.labels import bilingual, check_labels, when
from consent.records.receipt import receipt_build, receipt_fields, terms_recipients, token_jti, verify_url
from consent.records.sign import PRODUCER, pdf_sign, signature_check
from consent.records.transparency import evidence_check

logger = logging.getLogger(__name__)

RECEIPT_NAME = "receipt.json"
TITLES = {
    Artifact.Kind.GRANT: ("人脸或声音编辑单独同意记录", "Record of separate consent to editing a face or voice"),
    Artifact.Kind.REVOCATION: ("撤回同意记录", "Record of withdrawal of consent"),
}


# ---- rendering --------------------------------------------------------------------------------


def _samples(consent: Consent, terms: dict) -> list[dict]:
    # No image of the sample: the record outlives the sample (deleted with the account), and its SHA-256
    # already identifies it. A face thumbnail here would be biometric data kept after "samples erased".
    return [
        {"sha256": entry["sha256"], "kind": bilingual("sample", entry.get("kind", ""))}
        for entry in terms.get("samples", [])
    ]


def render_context(consent: Consent, kind: str, receipt_bytes: bytes, *, grant_sha256: str = "") -> dict:
    terms = json.loads(consent.terms_json)
    evidence = consent.evidence or {}
    guardian = consent.guardian
    return {
        "consent": consent,
        "kind": kind,
        "title_zh": TITLES[kind][0],
        "title_en": TITLES[kind][1],
        "terms": terms,
        "recipients": terms_recipients(terms),
        "organization": consent.organization,
        "person": consent.person,
        "person_check": check_labels(evidence.get("person")),
        "guardian": guardian,
        "guardian_check": check_labels(evidence.get("guardian")),
        "guardian_relationship": bilingual("relationship", guardian.relationship if guardian else ""),
        "end_user_method": bilingual("end_user", terms["end_user"]["verification"]["method"]),
        "end_user_verified_at": when(datetime.fromisoformat(terms["end_user"]["verification"]["time"])),
        "modality": bilingual("modality", consent.modality),
        "operations": [bilingual("operation", op) for op in consent.operations],
        "samples": _samples(consent, terms) if kind == Artifact.Kind.GRANT else [],
        "granted_at": when(consent.granted_at),
        "revoked_at": when(consent.revoked_at),
        "valid_until": when(consent.valid_until),
        "token_jti": token_jti(consent),
        "grant_sha256": grant_sha256,
        "receipt_sha256": hashlib.sha256(receipt_bytes).hexdigest(),
        "statement": evidence.get("statement"),
        "verify_url": verify_url(consent),
        "verify_page_url": f"{settings.SITE_URL}/verify/",
        "qr_data_uri": segno.make(verify_url(consent), error="m").svg_data_uri(scale=4, border=2),
    }


def data_only_fetcher():
    """A WeasyPrint URL fetcher for data: URIs only: a record never loads anything from the network or disk.

    Its unused HTTPS handler gets a bare SSL context: loading the system's CA store costs ~45 ms per render.
    """
    return URLFetcher(allowed_protocols={"data"}, ssl_context=ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT))


_per_thread = threading.local()


def font_config() -> FontConfiguration:
    """This thread's WeasyPrint font configuration, made once and kept.

    Its Pango font map caches the faces it has opened and their metrics; a fresh one per record opens
    the 20 MB CJK collection again and measures every glyph anew. Pango font maps are not thread-safe,
    hence one per thread. The record uses installed fonts only (no @font-face), so nothing in it
    changes while the process runs.
    """
    config = getattr(_per_thread, "font_config", None)
    if config is None:
        config = _per_thread.font_config = FontConfiguration()
    return config


CREATOR = f"Likeness consent service (WeasyPrint {weasyprint_version})"


def _finish(document, pdf) -> None:
    """One entry per attachment in the catalogue's /AF, the Producer the signed file will carry, compact fonts.

    WeasyPrint lists each PDF/A-3 attachment in /AF twice (once from the name tree, once as a file
    specification). The signature's revision rewrites XMP pdf:Producer to pyHanko's name, so the
    Info /Producer says the same from the start; WeasyPrint stays named as the creator tool. The CJK
    font keeps only the glyphs the record shows, renumbered (consent.records.fonts): WeasyPrint's subset
    keeps the font's glyph numbering, which for Noto Sans CJK is ~800 KB of empty glyphs.
    """
    if "AF" in pdf.catalog:
        unique: dict[str, object] = {}
        for reference in pdf.catalog["AF"]:  # "9 0 R" as str or bytes, depending on where it came from
            key = reference.decode() if isinstance(reference, bytes) else str(reference)
            unique.setdefault(key, reference)
        pdf.catalog["AF"] = pydyf.Array(unique.values())
    pdf.info["Producer"] = pydyf.String(PRODUCER)
    compact_cid_fonts(pdf)


def html_to_pdfa(html: str, *, attachments=()) -> bytes:
    """PDF/A-3b bytes of an HTML document; fonts are embedded (subset) by WeasyPrint."""
    document = HTML(string=html, url_fetcher=data_only_fetcher()).render(
        pdf_variant="pdf/a-3b", font_config=font_config()
    )
    document.metadata.generator = CREATOR
    return document.write_pdf(pdf_variant="pdf/a-3b", attachments=list(attachments), finisher=_finish)


def artifact_render(consent: Consent, kind: str, *, grant_sha256: str = "") -> bytes:
    """The unsigned PDF/A-3b record, with `receipt.json` embedded (a fresh Attachment per render)."""
    receipt_bytes = canonical_json(receipt_build(consent, kind, grant_sha256=grant_sha256))
    html = render_to_string(
        f"records/{kind}.html", render_context(consent, kind, receipt_bytes, grant_sha256=grant_sha256)
    )
    attachment = Attachment(
        string=receipt_bytes,
        url_fetcher=data_only_fetcher(),
        name=RECEIPT_NAME,
        description="Consent receipt (canonical JSON)",
        relationship="Source",
    )
    return html_to_pdfa(html, attachments=[attachment])


def artifact_build(consent: Consent, kind: str, *, grant_sha256: str = "") -> bytes:
    """Render and sign: the bytes that are stored and handed out."""
    reason = "同意记录 Consent record" if kind == Artifact.Kind.GRANT else "撤回记录 Withdrawal record"
    return pdf_sign(artifact_render(consent, kind, grant_sha256=grant_sha256), reason=f"{reason} #{consent.pk}")


# ---- verification -----------------------------------------------------------------------------


class Problem(TextChoices):
    """Why an uploaded record is not valid (stable codes for the command line, messages for people)."""

    NOT_PDF = "not_pdf", _("The file is not a readable PDF.")
    UNSIGNED = "unsigned", _("The file carries no signature.")
    SIGNATURE_BROKEN = "signature_broken", _("The signature does not match the content: the file was changed.")
    NOT_OUR_SIGNER = "not_our_signer", _("The signature was not made with this platform's certificate.")
    NOT_WHOLE_FILE = "not_whole_file", _("Content was added to the file after it was signed.")
    NO_RECEIPT = "no_receipt", _("The file carries no readable consent receipt.")
    UNKNOWN_CONSENT = "unknown_consent", _("No consent with this number exists in our records.")
    RECEIPT_MISMATCH = "receipt_mismatch", _("The embedded receipt does not match our record of this consent.")
    LOG_PROOF_BROKEN = (
        "log_proof_broken",
        _("The record's proof that the decision is in the public audit log does not verify."),
    )


@dataclass(frozen=True)
class PublicStatus:
    """What anyone may learn about a consent from its number (the QR target): nothing about the person."""

    consent_id: int
    state: str
    organization: str
    modality: str
    valid_until: datetime

    @property
    def state_label(self) -> str:
        return str(Consent.State(self.state).label)


@dataclass
class VerificationReport:
    problems: list[Problem] = field(default_factory=list)
    kind: str = ""
    consent_id: int | None = None
    status: PublicStatus | None = None  # the consent's state now, once signature and record check out
    signed_at: datetime | None = None
    signer: str = ""
    stored_copy: bool = False  # byte for byte the file we issued
    log_leaf_index: int | None = None  # where the decision sits in the transparency log, once its proof holds
    log_tree_size: int | None = None

    @property
    def valid(self) -> bool:
        return not self.problems


def consent_state_now(consent: Consent) -> str:
    """The state a verifier should see: an active consent past its validity is expired even before the sweep."""
    if consent.state == Consent.State.ACTIVE and consent.valid_until < timezone.now():
        return Consent.State.EXPIRED
    return consent.state


def _public(consent: Consent) -> PublicStatus:
    return PublicStatus(
        consent_id=consent.pk,
        state=consent_state_now(consent),
        organization=consent.organization.name,
        modality=consent.modality,
        valid_until=consent.valid_until,
    )


def consent_status_public(*, public_id) -> PublicStatus | None:
    consent = Consent.objects.select_related("organization").filter(public_id=public_id).first()
    return _public(consent) if consent else None


def _embedded_files(root) -> dict[str, bytes]:
    """Embedded files by name from the catalogue's /EmbeddedFiles name tree."""
    found: dict[str, bytes] = {}

    def walk(node, depth):
        node = node.get_object()
        if depth > 8:
            return
        names = node.get("/Names")
        if names is not None:
            pairs = list(names)
            for name, spec in zip(pairs[::2], pairs[1::2], strict=False):
                stream = spec.get_object().get("/EF", {}).get("/F")
                if stream is not None:
                    found[str(name)] = stream.get_object().data
        for kid in node.get("/Kids", []):
            walk(kid, depth + 1)

    names = root.get("/Names")
    if names is not None and "/EmbeddedFiles" in names.get_object():
        walk(names.get_object()["/EmbeddedFiles"], 0)
    return found


def artifact_verify(data: bytes) -> VerificationReport:
    """Check an uploaded record: our signature over the whole file, then its receipt against our record.

    The consent's state is only looked up once the signature holds, so a forged file learns nothing.
    """
    report = VerificationReport()
    check = signature_check(data)
    if check.problem:
        report.problems.append(Problem(check.problem))
        return report
    report.signed_at, report.signer = check.signed_at, check.signer
    try:
        receipt = receipt_fields(json.loads(_embedded_files(check.root)[RECEIPT_NAME]))
        report.kind = str(receipt["kind"])
        report.consent_id = int(receipt["consent_id"])
        claimed_sha256 = str(receipt["terms_sha256"])
        terms = receipt["terms"]
    except (KeyError, TypeError, ValueError, AttributeError):
        report.problems.append(Problem.NO_RECEIPT)
        return report
    evidence = receipt.get("transparency_log")
    if evidence is not None:  # records made before the log was a tree carry none
        check = evidence_check(evidence, consent_id=report.consent_id, kind=report.kind)
        if check.ok:
            report.log_leaf_index, report.log_tree_size = check.leaf_index, check.tree_size
        else:
            report.problems.append(Problem.LOG_PROOF_BROKEN)
    consent = Consent.objects.select_related("organization").filter(pk=report.consent_id).first()
    if consent is None:
        report.problems.append(Problem.UNKNOWN_CONSENT)
        return report
    try:
        terms_sha256 = hashlib.sha256(canonical_json(terms)).hexdigest()
    except TypeError:  # not canonical JSON (a float, say): cannot be what was consented to
        terms_sha256 = ""
    if claimed_sha256 != consent.terms_sha256 or terms_sha256 != consent.terms_sha256:
        report.problems.append(Problem.RECEIPT_MISMATCH)
    report.status = _public(consent)
    report.stored_copy = Artifact.objects.filter(consent=consent, sha256=hashlib.sha256(data).hexdigest()).exists()
    return report
