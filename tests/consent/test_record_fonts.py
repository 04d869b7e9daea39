"""What the record's font compaction leaves alone: fonts whose glyph numbers are positions, programs it
cannot read, and a compact font whose CIDs came out wrong. (That it keeps every pixel and character of a
real record: test_standards_records.py.)"""

import io
import logging

import pypdf
import pytest
import uharfbuzz as hb
from fontTools.cffLib import CFFFontSet
from fontTools.fontBuilder import FontBuilder
from fontTools.pens.t2CharStringPen import T2CharStringPen

from consent.records import fonts
from consent.records.fonts import compact_cid_font
from consent.records.render import html_to_pdfa


def name_keyed_otf(glyphs: list[str]) -> bytes:
    """An OpenType CFF font of triangles whose glyphs have names, not CIDs (as most Latin OpenType fonts)."""
    builder = FontBuilder(1000, isTTF=False)
    builder.setupGlyphOrder(glyphs)
    builder.setupCharacterMap({ord("!"): "exclam"})
    pen = T2CharStringPen(600, None)
    pen.moveTo((0, 0))
    pen.lineTo((600, 0))
    pen.lineTo((300, 700))
    pen.closePath()
    box = pen.getCharString()
    builder.setupCFF("NameKeyed", {"FullName": "Name Keyed"}, dict.fromkeys(glyphs, box), {})
    builder.setupHorizontalMetrics(dict.fromkeys(glyphs, (600, 0)))
    builder.setupHorizontalHeader(ascent=800, descent=-200)
    builder.setupNameTable({"familyName": "Name Keyed", "styleName": "Regular"})
    builder.setupOS2()
    builder.setupPost()
    out = io.BytesIO()
    builder.save(out)
    return out.getvalue()


def test_a_name_keyed_cff_font_is_left_as_weasyprint_embedded_it_quietly(caplog):
    # Its glyph numbers are positions: renumbering would redraw the text with other glyphs. Here the charset's
    # string ids (space 1, exclam 2) equal the positions, so only the Top DICT (no ROS) tells it from CIDs.
    with caplog.at_level(logging.WARNING, logger="consent.records.fonts"):
        assert compact_cid_font(name_keyed_otf([".notdef", "space", "exclam"]), {2}) is None
    assert caplog.text == ""  # not an error: there is nothing to compact


def test_a_program_harfbuzz_cannot_read_is_kept_and_logged(caplog):
    with caplog.at_level(logging.WARNING, logger="consent.records.fonts"):
        assert compact_cid_font(b"not a font program", {1}) is None
    assert "left as WeasyPrint embedded it" in caplog.text


@pytest.fixture(scope="module")
def noto_program() -> tuple[bytes, list[int]]:
    """Noto Sans CJK as WeasyPrint embeds it (its glyph numbering kept), and the CIDs its page text uses."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setattr("consent.records.render.compact_cid_fonts", lambda pdf: None)
        pdf = html_to_pdfa("<p style=\"font-family: 'Noto Sans CJK SC'\">撤回同意记录</p>")
    (font,) = pypdf.PdfReader(io.BytesIO(pdf)).pages[0]["/Resources"]["/Font"].values()
    cid_font = font.get_object()["/DescendantFonts"][0].get_object()
    runs = list(cid_font["/W"])
    cids = sorted(first + i for first, run in zip(runs[::2], runs[1::2], strict=True) for i in range(len(run)))
    return cid_font["/FontDescriptor"]["/FontFile3"].get_object().get_data(), cids


def charset(cff: bytes) -> list[str]:
    fontset = CFFFontSet()
    fontset.decompile(io.BytesIO(cff), None)
    return fontset.topDictIndex[0].charset


@pytest.mark.pdf
def test_notdef_and_numbers_past_the_last_glyph_are_no_cids_to_keep(noto_program):
    program, cids = noto_program
    last = max(cids)  # a CID far from 1: the compact font's glyph 1
    compact = compact_cid_font(program, {0, last, 10**6})
    assert compact is not None and charset(compact) == [".notdef", f"cid{last:05d}"]


@pytest.mark.pdf
def test_a_compact_font_whose_glyphs_lost_their_cids_is_not_embedded(noto_program, monkeypatch, caplog):
    program, cids = noto_program
    subset_input = fonts._subset_input

    def renumbering_the_cids_too(glyphs):
        request = subset_input(glyphs)
        request.flags |= hb.SubsetFlags.CFF_IDENTITY_CHARSET  # glyph n gets CID n: the text would draw others
        return request

    monkeypatch.setattr(fonts, "_subset_input", renumbering_the_cids_too)
    with caplog.at_level(logging.WARNING, logger="consent.records.fonts"):
        assert compact_cid_font(program, set(cids)) is None
    assert "CIDs are not the ones the record's text uses" in caplog.text
