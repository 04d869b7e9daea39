"""Reference samples: size limit and content sniffing (the bytes decide the type, not the file name)."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

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
            return kind, content_type
    if len(content) > 1 and content[0] == 0xFF and content[1] & 0xE0 == 0xE0:
        return "audio", "audio/mpeg"  # MPEG audio frame without an ID3 tag
    raise ValidationError(_("not a supported image (JPEG, PNG, WebP) or audio file (WAV, MP3, OGG, FLAC, M4A)"))
