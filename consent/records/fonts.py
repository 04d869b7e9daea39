"""Compact the CJK font WeasyPrint embeds in a record: the glyphs the record shows, not 63 000 empty ones.

WeasyPrint subsets each font with HarfBuzz keeping the original glyph numbering (its page text names glyphs
by their number in the installed font, and no option of WeasyPrint 70 renumbers them): a subset of Noto
Sans CJK still declares every glyph up to the highest one used, each with its CFF charstring offset,
charset entry and horizontal and vertical metrics, about 800 KB (180 KB deflated) for ~300 real glyphs.

For a CID-keyed CFF font (how WeasyPrint embeds Noto Sans CJK: a CIDFontType0 with Identity-H) the numbers
in the page text are CIDs, and a reader finds a CID's glyph through the CFF charset. The numbers WeasyPrint
writes are HarfBuzz's glyph numbers in the font, which is right because the font's charset gives each glyph
its own number as CID (Noto Sans CJK's does). HarfBuzz's subsetter (the uharfbuzz bindings), asked to
renumber, keeps each glyph's CID in the charset, so the used glyphs alone still answer to the same CIDs: the
page content, the widths (/W) and the ToUnicode map stay exactly as WeasyPrint wrote them. The result's
charset is read back and must hold exactly those CIDs, or WeasyPrint's own program stays. Name-keyed CFF and
TrueType fonts, whose numbers are glyph positions, are left as they are (the record's TrueType monospace
font is small anyway).

HarfBuzz does the subsetting; fontTools reads the compact result back (whether it is CID-keyed, and its
charset), which is cheap on a few hundred glyphs where it was not on WeasyPrint's 63 000.
"""

import io
import logging

import pydyf
import uharfbuzz as hb
from fontTools.cffLib import CFFFontSet

logger = logging.getLogger(__name__)


def _object(pdf: pydyf.PDF, reference) -> object:
    """The object a pydyf reference (b"12 0 R" or "12 0 R") names."""
    text = reference.decode() if isinstance(reference, bytes) else str(reference)
    return pdf.objects[int(text.split()[0])]


def _cids(widths: pydyf.Array) -> set[int]:
    """The CIDs a /W array gives widths for: WeasyPrint writes it as `first [w1 w2 ...]` runs."""
    cids: set[int] = set()
    for first, run in zip(widths[::2], widths[1::2], strict=True):
        cids.update(range(int(first), int(first) + len(run)))
    return cids


def _used_cids_by_font_file(pdf: pydyf.PDF) -> dict[int, tuple[pydyf.Stream, set[int]]]:
    """For each embedded CFF font program (a CIDFontType0's): its stream and every CID the text shows with it."""
    found: dict[int, tuple[pydyf.Stream, set[int]]] = {}
    for obj in pdf.objects:
        if not isinstance(obj, pydyf.Dictionary) or obj.get("Subtype") != "/CIDFontType0":
            continue
        stream = _object(pdf, _object(pdf, obj["FontDescriptor"])["FontFile3"])  # WeasyPrint: OpenType CFF
        _, cids = found.setdefault(stream.number, (stream, set()))
        cids.update(_cids(obj.get("W", pydyf.Array())))
    return found


def _cids_of(cff: bytes) -> list[int] | None:
    """The CIDs of the glyphs after .notdef of a CID-keyed bare CFF font, in glyph order; None if name-keyed.

    Read with fontTools' CFF reader, on the compact font only (a few hundred glyphs: a millisecond or two).
    """
    fonts = CFFFontSet()
    fonts.decompile(io.BytesIO(cff), otFont=None)
    top = fonts.topDictIndex[0]
    if not hasattr(top, "ROS"):
        return None
    return [int(name.removeprefix("cid")) for name in top.charset[1:]]  # fontTools names CID glyphs "cid01234"


def _subset_input(glyphs: set[int]) -> hb.SubsetInput:
    """Renumber the glyphs, and otherwise keep each one as WeasyPrint's subset left it (outline, hints, width)."""
    request = hb.SubsetInput()
    for glyph in sorted(glyphs):
        request.glyph_set.add(glyph)
    request.flags = (
        hb.SubsetFlags.NOTDEF_OUTLINE  # .notdef stays as it was: it draws a character the font lacks
        | hb.SubsetFlags.NO_LAYOUT_CLOSURE  # the glyphs the text shows, not what GSUB could turn them into
    )  # hints are kept and subroutines left as they are, as without flags
    return request


def compact_cid_font(program: bytes, cids: set[int]) -> bytes | None:
    """The bare CFF font (PDF FontFile3 /CIDFontType0C) of an OpenType CID-keyed CFF `program`, with only
    the glyphs of `cids`, each keeping its CID; None when `program` is anything else or cannot be read.

    The record embeds the CFF table alone: that is where a reader takes a CIDFontType0's outlines and CIDs
    from (poppler reads the CIDs of an OpenType-wrapped CFF as glyph positions, which a renumbered subset
    breaks), and the OpenType tables around it (metrics, cmap) go unused, as the PDF gives every width.
    """
    try:
        face = hb.Face(hb.Blob(program))
        if not face.table_tags:
            raise ValueError("not an OpenType font program")
        if "CFF " not in face.table_tags:
            return None
        # A CID the font lacks (WeasyPrint's number for a character no font has) is drawn as .notdef, before
        # and after; HarfBuzz leaves it out.
        kept = sorted(cid for cid in cids if 0 < cid < face.glyph_count)
        compact = hb.Face(hb.subset(face, _subset_input(set(kept))).blob)
        cff = compact.reference_table("CFF ").data
        cids_kept = _cids_of(cff)
        if cids_kept is None:  # name-keyed: the text's numbers are glyph positions, which renumbering breaks
            return None
        if cids_kept != kept:
            raise ValueError("the compact font's CIDs are not the ones the record's text uses")
        return cff
    except Exception as exc:  # whatever the reading raises, WeasyPrint's own program is a correct fallback
        logger.warning("record font left as WeasyPrint embedded it: %r", exc)
        return None


def compact_cid_fonts(pdf: pydyf.PDF) -> None:
    """Replace each embedded CID-keyed CFF font program of `pdf` by its compact form (a WeasyPrint finisher step)."""
    for stream, cids in _used_cids_by_font_file(pdf).values():
        program = b"".join(stream.stream)
        compact = compact_cid_font(program, cids)
        if compact is not None:
            stream.stream = [compact]
            stream.extra["Subtype"] = "/CIDFontType0C"
