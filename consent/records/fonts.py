"""Compact the CJK font WeasyPrint embeds in a record: the glyphs the record shows, not 63 000 empty ones.

WeasyPrint subsets each font with HarfBuzz keeping the original glyph numbering (its page text names glyphs
by their number in the installed font, and no option of WeasyPrint 70 renumbers them): a subset of Noto
Sans CJK still declares every glyph up to the highest one used, each with its CFF charstring offset,
charset entry and horizontal and vertical metrics, about 800 KB (180 KB deflated) for ~300 real glyphs.

For a CID-keyed CFF font (how WeasyPrint embeds Noto Sans CJK: a CIDFontType0 with Identity-H) the numbers
in the page text are CIDs, and a reader finds a CID's glyph through the CFF charset. fontTools' subsetter
keeps each glyph's CID in the charset while it renumbers the glyphs (`retain_gids=False`), so the used
glyphs alone still answer to the same CIDs: the page content, the widths (/W) and the ToUnicode map stay
exactly as WeasyPrint wrote them. Name-keyed CFF and TrueType fonts, whose numbers are glyph positions,
are left as they are (the record's TrueType monospace font is small anyway).
"""

import io
import logging

import pydyf
from fontTools import subset
from fontTools.ttLib import TTFont

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


def _options() -> subset.Options:
    """Renumber the glyphs, and otherwise keep each one as WeasyPrint's subset left it (outline, hints, width)."""
    return subset.Options(
        retain_gids=False,
        notdef_outline=True,  # .notdef stays as it was: it draws a character the font lacks
        hinting=True,
        desubroutinize=False,  # already done by WeasyPrint's subset
    )


def compact_cid_font(program: bytes, cids: set[int]) -> bytes | None:
    """The bare CFF font (PDF FontFile3 /CIDFontType0C) of an OpenType CID-keyed CFF `program`, with only
    the glyphs of `cids`, each keeping its CID; None when `program` is anything else or cannot be read.

    The record embeds the CFF table alone: that is where a reader takes a CIDFontType0's outlines and CIDs
    from (poppler reads the CIDs of an OpenType-wrapped CFF as glyph positions, which a renumbered subset
    breaks), and the OpenType tables around it (metrics, cmap) go unused, as the PDF gives every width.
    """
    try:
        font = TTFont(io.BytesIO(program), lazy=True, recalcBBoxes=False, recalcTimestamp=False)
        if "CFF " not in font or not hasattr(font["CFF "].cff.topDictIndex[0], "ROS"):
            return None
        for tag in list(font.keys()):  # not embedded: not worth subsetting (63 000 metrics each)
            if tag not in ("GlyphOrder", "CFF "):
                del font[tag]
        # fontTools names the glyphs of a CID-keyed font by their CID: cid00042 is CID 42 wherever it sits.
        # A CID the font lacks (WeasyPrint's number for a character no font has) is drawn as .notdef,
        # before and after; fontTools would refuse it, so it is left out.
        present = set(font.getGlyphOrder())
        subsetter = subset.Subsetter(_options())
        subsetter.populate(glyphs=[name for cid in sorted(cids) if (name := f"cid{cid:05d}") in present])
        subsetter.subset(font)
        return font["CFF "].compile(font)
    except Exception as exc:  # whatever fontTools raises, WeasyPrint's own program is a correct fallback
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
