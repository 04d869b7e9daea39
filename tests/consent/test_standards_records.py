"""The signed records as other people's tools see them: pdfsig (poppler + NSS), jsonschema, the PDF/A structure.

Our own checks (pyHanko, artifact_verify) live in test_artifacts.py; here an independent tool judges.
"""

import hashlib
import io
import json
import re
import shutil
import subprocess

import pypdf
import pytest
from fontTools.cffLib import CFFFontSet
from fontTools.pens.basePen import NullPen
from jsonschema import Draft202012Validator, FormatChecker
from PIL import Image
from weasyprint import Attachment

from audit.canonical import canonical_json
from consent import services
from consent.builders import build_granted_consent, build_request
from consent.models import Artifact, Consent
from consent.records.receipt import RECEIPT_SCHEMA_FILE, receipt_build, receipt_schema
from consent.records.render import artifact_verify, data_only_fetcher, html_to_pdfa
from consent.records.sign import pdf_sign, signing_material
from consent.services import consent_grant
from tests.consent.conftest import PERSON_PHONE

pytestmark = pytest.mark.django_db


def validator() -> Draft202012Validator:
    schema = json.loads(RECEIPT_SCHEMA_FILE.read_text(encoding="utf-8"))  # the file in the repository
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=FormatChecker())


def assert_valid(receipt: dict) -> None:
    errors = sorted(validator().iter_errors(receipt), key=lambda e: list(e.absolute_path))
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors]


def granted_with(organization, operator, pat_verified, **fields) -> Consent:
    request = build_request(actor=operator, organization=organization, phone=PERSON_PHONE, **fields)
    return build_granted_consent(person=pat_verified, request=request, position=1)


def pdf_of(consent: Consent, kind: str = "grant") -> bytes:
    with Artifact.objects.get(consent=consent, kind=kind).file.open("rb") as handle:
        return handle.read()


# ---- the receipt and its schema -----------------------------------------------------------------


def test_a_receipt_without_recipients_discloses_to_nobody_and_validates(organization, operator, pat_verified):
    receipt = receipt_build(granted_with(organization, operator, pat_verified), "grant")
    assert_valid(receipt)
    purpose = receipt["services"][0]["purposes"][0]
    assert purpose["thirdPartyDisclosure"] is False and "thirdPartyName" not in purpose
    assert receipt["x-likeness"]["recipients"] == []


def test_named_recipients_are_disclosed_by_name(organization, operator, pat_verified):
    consent = granted_with(organization, operator, pat_verified, notice_recipients=["星光影业", "Dub Studio Ltd"])
    receipt = receipt_build(consent, "grant")
    assert_valid(receipt)
    purpose = receipt["services"][0]["purposes"][0]
    assert purpose["thirdPartyDisclosure"] is True and purpose["thirdPartyName"] == "星光影业; Dub Studio Ltd"
    assert receipt["x-likeness"]["recipients"] == ["星光影业", "Dub Studio Ltd"]


def test_the_word_none_in_a_recipient_list_is_a_name_not_a_magic_word(organization, operator, pat_verified):
    # Free text read for a word said "no disclosure" for "无 None"; a list means what it lists.
    consent = granted_with(organization, operator, pat_verified, notice_recipients=["None Pictures"])
    assert receipt_build(consent, "grant")["services"][0]["purposes"][0]["thirdPartyDisclosure"] is True


def test_terms_frozen_with_free_text_recipients_still_give_a_valid_receipt(organization, operator, pat_verified):
    consent = granted_with(organization, operator, pat_verified)
    terms = json.loads(consent.terms_json)
    for text, disclosed in (("无 None", False), ("", False), ("Partner studio", True)):
        terms["notice"]["recipients"] = text
        consent.terms_json = json.dumps(terms)  # in memory: a consent frozen before recipients were a list
        receipt = receipt_build(consent, "grant")
        assert_valid(receipt)
        assert receipt["services"][0]["purposes"][0]["thirdPartyDisclosure"] is disclosed, text


def test_a_withdrawal_receipt_validates_and_a_grant_may_not_carry_a_revocation(organization, operator, pat_verified):
    consent = granted_with(organization, operator, pat_verified)
    services.consent_revoke(person=pat_verified, consent_id=consent.pk)
    consent.refresh_from_db()
    receipt = receipt_build(consent, "revocation", grant_sha256="a" * 64)
    assert_valid(receipt)
    grant = receipt_build(consent, "grant")
    grant["x-likeness"]["revocation"] = receipt["x-likeness"]["revocation"]
    assert not validator().is_valid(grant)


def test_the_schema_keeps_kantara_required_fields_and_refuses_stray_keys(organization, operator, pat_verified):
    receipt = receipt_build(granted_with(organization, operator, pat_verified), "grant")
    for name in ("policyUrl", "piiControllers", "services", "sensitive", "consentReceiptID", "x-likeness"):
        incomplete = {k: v for k, v in receipt.items() if k != name}
        assert not validator().is_valid(incomplete), name
    assert not validator().is_valid({**receipt, "consent_id": 1})  # our fields belong under x-likeness
    assert not validator().is_valid({**receipt, "consentTimestamp": "2026-01-01"})
    assert receipt["policyUrl"].startswith("http")


def test_the_schema_is_served_as_stored_in_the_repository(client, settings):
    response = client.get("/schemas/consent-receipt/v1.json")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/schema+json"
    served = json.loads(response.content)
    assert served.pop("$id") == f"{settings.SITE_URL}/schemas/consent-receipt/v1.json"
    assert served == receipt_schema()


# ---- the signed PDF, judged by poppler and NSS ----------------------------------------------------


needs_pdfsig = pytest.mark.skipif(
    not (shutil.which("pdfsig") and shutil.which("certutil")),
    reason="pdfsig and certutil are missing: `make test` installs poppler-utils and libnss3-tools",
)


@pytest.fixture
def record(organization, operator, pat_verified) -> bytes:
    request = build_request(actor=operator, organization=organization, phone=PERSON_PHONE)
    services.request_open(person=pat_verified, code=request.code)
    return pdf_of(consent_grant(actor=pat_verified, item_id=request.items.get(position=1).pk))


def nss_db(tmp_path, *, trust_ca: bool):
    folder = tmp_path / "nss"
    folder.mkdir()
    subprocess.run(["certutil", "-N", "-d", f"sql:{folder}", "--empty-password"], check=True, capture_output=True)
    if trust_ca:
        ca = tmp_path / "ca.der"
        ca.write_bytes(signing_material().trust_roots[0].dump())
        subprocess.run(
            ["certutil", "-A", "-d", f"sql:{folder}", "-n", "consent-ca", "-t", "C,C,C", "-i", str(ca)],
            check=True,
            capture_output=True,
        )
    return folder


def pdfsig(path, nss) -> str:
    result = subprocess.run(["pdfsig", "-nssdir", f"sql:{nss}", str(path)], capture_output=True, text=True)
    return result.stdout + result.stderr


@needs_pdfsig
@pytest.mark.pdf
def test_pdfsig_trusts_the_signer_when_our_ca_is_trusted_and_only_then(record, tmp_path):
    path = tmp_path / "record.pdf"
    path.write_bytes(record)
    (tmp_path / "trusting").mkdir()
    trusted = pdfsig(path, nss_db(tmp_path / "trusting", trust_ca=True))
    assert "Signature is Valid." in trusted, trusted
    assert "Certificate is Trusted." in trusted, trusted
    assert "Total document signed" in trusted, trusted
    (tmp_path / "empty").mkdir()
    untrusted = pdfsig(path, nss_db(tmp_path / "empty", trust_ca=False))
    assert "Signature is Valid." in untrusted and "Certificate is Trusted." not in untrusted, untrusted


@pytest.mark.pdf
def test_a_record_issued_before_x_likeness_still_checks_out(organization, operator, pat_verified):
    # Records already handed out carry our fields at the top level; /verify/ must keep accepting them.
    consent = granted_with(organization, operator, pat_verified)
    legacy = {"kind": "grant", "consent_id": consent.pk, "terms": json.loads(consent.terms_json)}
    legacy["terms_sha256"] = consent.terms_sha256
    attachment = Attachment(
        string=canonical_json(legacy), url_fetcher=data_only_fetcher(), name="receipt.json", relationship="Source"
    )
    report = artifact_verify(pdf_sign(html_to_pdfa("<p>record</p>", attachments=[attachment]), reason="test"))
    assert report.valid and report.consent_id == consent.pk, report.problems


@pytest.mark.pdf
def test_the_record_embeds_a_valid_receipt_once_names_one_producer_and_keeps_the_pdfa_structure(record):
    reader = pypdf.PdfReader(io.BytesIO(record))
    (raw,) = reader.attachments["receipt.json"]
    assert_valid(json.loads(raw))

    root = reader.trailer["/Root"]
    af = [ref.get_object() for ref in root["/AF"]]
    assert len(af) == 1 and af[0]["/F"] == "receipt.json" and af[0]["/AFRelationship"] == "/Source"
    xmp = root["/Metadata"].get_object().get_data().decode()
    (xmp_producer,) = re.findall(r'pdf:Producer(?:="|>)([^"<]*)', xmp)
    assert reader.trailer["/Info"]["/Producer"] == xmp_producer
    (creator_tool,) = re.findall(r'xmp:CreatorTool(?:="|>)([^"<]*)', xmp)
    assert reader.trailer["/Info"]["/Creator"] == creator_tool

    # veraPDF is not packaged for Debian, npm or PyPI: these are the structural PDF/A checks we can make.
    assert re.search(r'pdfaid:part(="|>)3', xmp) and re.search(r'pdfaid:conformance(="|>)B', xmp)
    (intent,) = root["/OutputIntents"]
    assert intent.get_object()["/S"] == "/GTS_PDFA1" and "/DestOutputProfile" in intent.get_object()
    fonts = []
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            descendant = font["/DescendantFonts"][0].get_object() if "/DescendantFonts" in font else font
            fonts.append(descendant["/FontDescriptor"].get_object())
    assert fonts and all({"/FontFile", "/FontFile2", "/FontFile3"} & set(d.keys()) for d in fonts)


# ---- the embedded CJK font: only the glyphs shown, drawn and read as before ------------------------


def cid_fonts(pdf: bytes) -> list[tuple[dict[int, float], object]]:
    """({CID: width} of what the page text uses, FontFile3 stream) of each distinct CFF CID font in `pdf`."""
    found = {}
    for page in pypdf.PdfReader(io.BytesIO(pdf)).pages:
        for font in page["/Resources"]["/Font"].values():
            cid_font = font.get_object()["/DescendantFonts"][0].get_object()
            if cid_font["/Subtype"] != "/CIDFontType0":
                continue
            runs = list(cid_font["/W"])  # WeasyPrint writes `first [w1 w2 ...]` runs
            stream = cid_font["/FontDescriptor"]["/FontFile3"].get_object()
            widths = found.setdefault(id(stream), ({}, stream))[0]
            for first, run in zip(runs[::2], runs[1::2], strict=True):
                widths.update({first + i: float(width) for i, width in enumerate(run)})
    return list(found.values())


@pytest.mark.pdf
def test_the_cjk_font_is_a_bare_cid_keyed_cff_of_exactly_the_glyphs_the_record_shows(record):
    ((widths, stream),) = cid_fonts(record)
    assert stream["/Subtype"] == "/CIDFontType0C"
    cff = CFFFontSet()
    cff.decompile(io.BytesIO(stream.get_data()), None)
    top = cff.topDictIndex[0]
    assert top.ROS == ("Adobe", "Identity", 0) and top.FontMatrix == [0.001, 0, 0, 0.001, 0, 0]
    # Each glyph keeps its CID (fontTools names it by it): WeasyPrint's page text and widths still apply.
    assert set(top.charset) == {".notdef"} | {f"cid{cid:05d}" for cid in widths}
    assert 100 < len(widths) < 1000  # the record's words, not the 63 000 glyphs WeasyPrint's subset declares
    # PDF/A (ISO 19005-3, 6.2.11.5): the widths the PDF gives are the font program's own.
    for cid, width in widths.items():
        charstring = top.CharStrings[f"cid{cid:05d}"]
        charstring.draw(NullPen())  # decodes the glyph's advance width
        assert abs(charstring.width - width) <= 1, (cid, charstring.width, width)


needs_poppler = pytest.mark.skipif(
    not (shutil.which("pdftoppm") and shutil.which("pdftotext")),
    reason="pdftoppm and pdftotext are missing: `make test` installs poppler-utils",
)

MIXED_PAGE = """<style>html { font-family: "Noto Sans CJK SC" } code { font-family: "DejaVu Sans Mono" }</style>
<h1>撤回同意记录 Record of withdrawal</h1>
<p>本人已阅读下列告知：人脸替换、声音克隆。The person read the notice. 星光影业 Dub Studio Ltd</p>
<p><code>sha256 3f9a1c0e</code> and a character no installed font has: \U000f0000 (drawn as .notdef)</p>"""


def poppler(pdf: bytes, tmp_path, name: str) -> tuple[list[str], str]:
    """The SHA-256 of each page's pixels (pdftoppm, 100 dpi) and the text (pdftotext) of `pdf`."""
    path = tmp_path / f"{name}.pdf"
    path.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "100", "-png", str(path), str(tmp_path / name)], check=True)
    text = subprocess.run(["pdftotext", str(path), "-"], check=True, capture_output=True, text=True).stdout
    pages = [Image.open(png).convert("RGB").tobytes() for png in sorted(tmp_path.glob(f"{name}-*.png"))]
    return [hashlib.sha256(pixels).hexdigest() for pixels in pages], text


@needs_poppler
@pytest.mark.pdf
def test_the_compact_font_draws_every_pixel_and_gives_every_character_as_weasyprints_own(tmp_path, monkeypatch):
    compact = html_to_pdfa(MIXED_PAGE)
    monkeypatch.setattr("consent.records.render.compact_cid_fonts", lambda pdf: None)
    as_weasyprint_embeds = html_to_pdfa(MIXED_PAGE)
    pages, text = poppler(compact, tmp_path, "compact")
    assert (pages, text) == poppler(as_weasyprint_embeds, tmp_path, "weasyprint")
    words = text.split()
    assert "撤回同意记录" in words and "Dub" in words and "Studio" in words and "3f9a1c0e" in words
    assert "\U000f0000" in words  # ToUnicode still names the character the .notdef box stands for
    fonts = cid_fonts(compact)  # regular and bold
    assert len(fonts) == 2
    assert all(s["/Subtype"] == "/CIDFontType0C" and len(s.get_data()) < 20_000 for _, s in fonts)
    assert len(compact) < len(as_weasyprint_embeds) / 3
