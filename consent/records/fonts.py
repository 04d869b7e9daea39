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

The little CFF reading here (the Top DICT's ROS and charset, Adobe Technical Note #5176) is all that is
needed of the format; HarfBuzz does the subsetting itself.
"""

import logging
from itertools import pairwise

import pydyf
import uharfbuzz as hb

logger = logging.getLogger(__name__)

ROS = 1230  # the Top DICT operator 12 30 that makes a CFF font CID-keyed (escaped operators: 1200 + second byte)
CHARSET = 15


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


def _index(cff: bytes, pos: int) -> tuple[list[bytes], int]:
    """The items of the CFF INDEX at `pos`, and where the next structure starts (TN #5176, 5)."""
    count = int.from_bytes(cff[pos : pos + 2])
    if count == 0:
        return [], pos + 2
    size = cff[pos + 2]
    offsets = [int.from_bytes(cff[pos + 3 + i * size : pos + 3 + (i + 1) * size]) for i in range(count + 1)]
    base = pos + 2 + (count + 1) * size  # offsets count from 1, the first byte of the data
    return [cff[base + start : base + end] for start, end in pairwise(offsets)], base + offsets[-1]


def _top_dict(cff: bytes) -> dict[int, list]:
    """The first font's Top DICT: {operator: operands} (TN #5176, 4 and 8); reals are kept as None."""
    _, after_names = _index(cff, cff[2])  # the header's third byte is its size; the Name INDEX follows
    (data, *_), _ = _index(cff, after_names)
    entries: dict[int, list] = {}
    operands: list = []
    i = 0
    while i < len(data):
        b0 = data[i]
        if b0 <= 21:  # an operator, closing its operands
            operator, i = (1200 + data[i + 1], i + 2) if b0 == 12 else (b0, i + 1)
            entries[operator], operands = operands, []
        elif b0 in (28, 29):
            width = 2 if b0 == 28 else 4
            operands.append(int.from_bytes(data[i + 1 : i + 1 + width], signed=True))
            i += 1 + width
        elif b0 == 30:  # a real, packed in nibbles up to an 0xf one
            i += 1
            while data[i] >> 4 != 0xF and data[i] & 0xF != 0xF:
                i += 1
            operands.append(None)
            i += 1
        elif 32 <= b0 <= 246:
            operands.append(b0 - 139)
            i += 1
        elif 247 <= b0 <= 254:
            magnitude = (b0 - 247 if b0 <= 250 else b0 - 251) * 256 + data[i + 1] + 108
            operands.append(magnitude if b0 <= 250 else -magnitude)
            i += 2
        else:
            raise ValueError(f"reserved byte {b0} in a CFF DICT")
    return entries


def _charset(cff: bytes, glyphs: int) -> list[int]:
    """The CIDs of glyphs 1 to `glyphs` - 1 of a CID-keyed `cff` (.notdef, glyph 0, has none) (TN #5176, 13)."""
    (offset,) = _top_dict(cff)[CHARSET]
    form, pos, cids = cff[offset], offset + 1, []
    while len(cids) < glyphs - 1:
        first = int.from_bytes(cff[pos : pos + 2])
        if form == 0:
            cids.append(first)
            pos += 2
            continue
        # A range's count of further glyphs: one byte in format 1, two in format 2. (There is no other format;
        # what one would give fails the caller's comparison, and two bytes keep a range below 65 537 glyphs.)
        size = 1 if form == 1 else 2
        cids.extend(range(first, first + int.from_bytes(cff[pos + 2 : pos + 2 + size]) + 1))
        pos += 2 + size
    return cids[: glyphs - 1]


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
        if "CFF " not in face.table_tags or ROS not in _top_dict(face.reference_table("CFF ").data):
            return None
        # A CID the font lacks (WeasyPrint's number for a character no font has) is drawn as .notdef, before
        # and after; HarfBuzz leaves it out.
        kept = sorted(cid for cid in cids if 0 < cid < face.glyph_count)
        compact = hb.Face(hb.subset(face, _subset_input(set(kept))).blob)
        cff = compact.reference_table("CFF ").data
        if _charset(cff, compact.glyph_count) != kept:
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
