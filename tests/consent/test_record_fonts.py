"""What the record's font compaction leaves alone: fonts whose glyph numbers are positions, and programs it
cannot read. (That it keeps every pixel and character of a real record: test_standards_records.py.)"""

import io
import logging

from fontTools.fontBuilder import FontBuilder
from fontTools.pens.t2CharStringPen import T2CharStringPen

from consent.records.fonts import compact_cid_font


def name_keyed_otf() -> bytes:
    """A two-glyph OpenType CFF font whose glyphs have names, not CIDs (as most Latin OpenType fonts)."""
    builder = FontBuilder(1000, isTTF=False)
    builder.setupGlyphOrder([".notdef", "A"])
    builder.setupCharacterMap({ord("A"): "A"})
    pen = T2CharStringPen(600, None)
    pen.moveTo((0, 0))
    pen.lineTo((600, 0))
    pen.lineTo((300, 700))
    pen.closePath()
    box = pen.getCharString()
    builder.setupCFF("NameKeyed", {"FullName": "Name Keyed"}, {".notdef": box, "A": box}, {})
    builder.setupHorizontalMetrics({".notdef": (600, 0), "A": (600, 0)})
    builder.setupHorizontalHeader(ascent=800, descent=-200)
    builder.setupNameTable({"familyName": "Name Keyed", "styleName": "Regular"})
    builder.setupOS2()
    builder.setupPost()
    out = io.BytesIO()
    builder.save(out)
    return out.getvalue()


def test_a_name_keyed_cff_font_is_left_as_weasyprint_embedded_it():
    # Its glyph numbers are positions: renumbering would redraw the text with other glyphs.
    assert compact_cid_font(name_keyed_otf(), {1}) is None


def test_a_program_harfbuzz_cannot_read_is_kept_and_logged(caplog):
    with caplog.at_level(logging.WARNING, logger="consent.records.fonts"):
        assert compact_cid_font(b"not a font program", {1}) is None
    assert "left as WeasyPrint embedded it" in caplog.text
