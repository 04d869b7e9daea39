"""Reference samples: size limit and content sniffing (the bytes decide the type, not the file name)."""

import io
import warnings

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from PIL import Image

SIGNATURES = [
    (b"\xff\xd8\xff", 0, "image", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", 0, "image", "image/png"),
    (b"WEBP", 8, "image", "image/webp"),
    (b"WAVE", 8, "audio", "audio/wav"),
    (b"OggS", 0, "audio", "audio/ogg"),
    (b"fLaC", 0, "audio", "audio/flac"),
    (b"ID3", 0, "audio", "audio/mpeg"),
    (b"ftypM4A", 4, "audio", "audio/mp4"),
]


def sniff_sample(content: bytes) -> tuple[str, str]:
    """Return (kind, content type) of an image or audio sample, or raise ValidationError saying why not."""
    if not content:
        raise ValidationError(_("the file is empty"))
    limit = settings.SAMPLE_MAX_BYTES
    if len(content) > limit:
        raise ValidationError(
            _("the file is %(size)s bytes; at most %(limit)s bytes are accepted")
            % {"size": len(content), "limit": limit}
        )
    if content[:4] == b"RIFF" and content[8:12] not in (b"WEBP", b"WAVE"):
        raise ValidationError(_("RIFF files are accepted only as WebP images or WAV audio"))
    for magic, offset, kind, content_type in SIGNATURES:
        if content[offset : offset + len(magic)] == magic:
            if kind == "image":
                _check_dimensions(content)
            return kind, content_type
    if len(content) > 1 and content[0] == 0xFF and content[1] & 0xE0 == 0xE0:
        return "audio", "audio/mpeg"  # MPEG audio frame without an ID3 tag
    raise ValidationError(_("not a supported image (JPEG, PNG, WebP) or audio file (WAV, MP3, OGG, FLAC, M4A)"))


def _check_dimensions(content: bytes) -> None:
    """Refuse an image whose header announces more than SAMPLE_MAX_PIXELS, before any pixel is decoded.

    A few kilobytes of PNG can announce 9400 × 9400 pixels (a decompression bomb): whoever decodes it
    later (a thumbnail, a face model) would need gigabytes. Image.open reads the header only.
    """
    limit = settings.SAMPLE_MAX_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # we apply our own, lower limit
            with Image.open(io.BytesIO(content)) as image:
                width, height = image.size
    except Image.DecompressionBombError:
        width = height = None
    except Exception as exc:  # Pillow raises many types for a broken header; all mean "cannot read"
        raise ValidationError(_("the image cannot be read; it may be damaged")) from exc
    if width is None or width * height > limit:
        raise ValidationError(
            _("the image is too large: at most %(limit)s million pixels are accepted") % {"limit": limit // 1_000_000}
        )
