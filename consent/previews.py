"""Showing a person their own sample: a bounded image thumbnail, or the recording with HTTP Range support.

Access is checked by the caller (a selector); these responses only make the bytes safe to hand out:
never cached (`no-store`), never sniffed, served inline from private storage, not from a media URL.
"""

import io
import re
import warnings

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.http import HttpResponse
from PIL import Image, ImageOps

from consent.models import Sample
from consent.samples import _check_dimensions

THUMBNAIL_SIZE = (480, 480)
RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def _private(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Disposition"] = "inline"
    return response


def preview_name(sha256: str) -> str:
    """Where an image sample's thumbnail is kept (deleted with the sample when the account is deleted)."""
    return f"previews/{sha256}.jpg"


def thumbnail_bytes(sample: Sample) -> bytes:
    """The sample's JPEG thumbnail (at most THUMBNAIL_SIZE), made once and then read from storage.

    The pixel limit is checked again before decoding: a sample stored before that check existed, or a
    lowered limit, must not make the preview decode a decompression bomb.
    """
    name = preview_name(sample.sha256)
    if default_storage.exists(name):
        with default_storage.open(name, "rb") as stored:
            return stored.read()
    with sample.file.open("rb") as source:
        content = source.read()
    _check_dimensions(content)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with Image.open(io.BytesIO(content)) as image:
            image.draft("RGB", THUMBNAIL_SIZE)  # JPEG: decode at a reduced scale, not full size
            thumb = ImageOps.exif_transpose(image).convert("RGB")
            thumb.thumbnail(THUMBNAIL_SIZE)
    out = io.BytesIO()
    thumb.save(out, "JPEG", quality=85)
    data = out.getvalue()
    saved = default_storage.save(name, ContentFile(data))
    if saved != name:  # a concurrent request stored it first; a second copy would outlive account deletion
        default_storage.delete(saved)
    return data


def thumbnail_response(sample: Sample) -> HttpResponse:
    return _private(HttpResponse(thumbnail_bytes(sample), content_type="image/jpeg"))


def _byte_range(header: str, size: int) -> tuple[int, int] | None:
    """(first, last) of a single `bytes=` range, clipped to the file; None if unsatisfiable.

    Only one range is honoured; callers send the whole file for anything they cannot parse (RFC 9110 §14.2).
    """
    match = RANGE.match(header.strip())
    first, last = match.groups()
    if first == "":
        if last == "" or int(last) == 0:
            return None
        return max(0, size - int(last)), size - 1  # the final N bytes
    first = int(first)
    last = size - 1 if last == "" else min(int(last), size - 1)
    if first >= size or last < first:
        return None
    return first, last


def audio_response(sample: Sample, range_header: str = "") -> HttpResponse:
    """The recording as uploaded, with its sniffed content type; a `Range: bytes=a-b` gets a 206.

    Phones' players (Safari on iOS above all) fetch audio in ranges and refuse to play without them.
    """
    with sample.file.open("rb") as source:
        return media_response(source.read(), sample.content_type, range_header)


def statement_response(statement, range_header: str = "") -> HttpResponse:
    """A recorded statement, decrypted, for the person or an operator of the organisation; never cached."""
    from consent.services.statements import statement_recording  # the services import this module: a cycle

    return media_response(statement_recording(statement), statement.content_type, range_header)


def media_response(content: bytes, content_type: str, range_header: str = "") -> HttpResponse:
    size = len(content)
    if range_header and RANGE.match(range_header.strip()):
        span = _byte_range(range_header, size)
        if span is None:
            response = _private(HttpResponse(status=416))
            response["Content-Range"] = f"bytes */{size}"
            return response
        first, last = span
        response = _private(HttpResponse(content[first : last + 1], status=206, content_type=content_type))
        response["Content-Range"] = f"bytes {first}-{last}/{size}"
    else:
        response = _private(HttpResponse(content, content_type=content_type))
    response["Accept-Ranges"] = "bytes"
    return response


def sample_response(sample: Sample, range_header: str = "") -> HttpResponse:
    if sample.kind == Sample.Kind.IMAGE:
        return thumbnail_response(sample)
    return audio_response(sample, range_header)
