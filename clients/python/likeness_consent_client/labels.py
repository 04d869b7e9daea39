"""Write the provenance of a generated file into the file: the GB 45438-2025 `AIGC` implicit label, the signed
receipt, and optionally a C2PA manifest.

Every container is read and written by a maintained library (Pillow, mutagen, c2pa-python), never by hand:
PNG gets iTXt chunks, JPEG an XMP packet, MP3 and WAV ID3 `TXXX` frames, MP4 iTunes free-form atoms.
Install with the `labels` extra (and `c2pa` for manifests): `pip install 'likeness-consent-client[labels,c2pa]'`.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import quoteattr

AIGC_KEY = "AIGC"
RECEIPT_KEY = "ProvenanceReceipt"
XMP_NAMESPACE = "http://www.tc260.org.cn/ns/AIGC/1.0/"  # the TC260 namespace of the AIGC XMP property
RECEIPT_NAMESPACE = "https://likeness-consent.example/ns/provenance/1.0/"
MP4_FREEFORM = "----:com.apple.iTunes:"
C2PA_ASSERTION = "org.likeness-consent.provenance"
TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
MEDIA_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "MP3": "audio/mpeg", "WAVE": "audio/wav", "MP4": "video/mp4"}


class UnsupportedFile(ValueError):
    """The file is none of PNG, JPEG, MP3, WAV or MP4 (as the libraries read it)."""


@dataclass(frozen=True)
class C2paCredentials:
    """The generation service's C2PA signing identity: a PEM certificate chain (leaf first) and its key."""

    certificate_chain_pem: bytes
    private_key_pem: bytes
    algorithm: str = "es256"
    timestamp_url: str | None = None


def _kind(path: Path) -> str:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            if image.format in ("PNG", "JPEG"):
                return image.format
    except (UnidentifiedImageError, OSError):
        pass
    import mutagen

    try:
        audio = mutagen.File(path)
    except mutagen.MutagenError:
        audio = None
    name = type(audio).__name__ if audio is not None else ""
    if name in ("MP3", "WAVE", "MP4"):
        return name
    raise UnsupportedFile(f"{path.name}: not a PNG, JPEG, MP3, WAV or MP4 file")


def _replace(path: Path, write) -> None:
    """Write the new file next to the old one, then swap: a crash never leaves half a file."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=path.suffix)
    os.close(handle)
    try:
        write(temporary)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def _label_png(path: Path, values: dict[str, str]) -> None:
    from PIL import Image
    from PIL.PngImagePlugin import PngInfo

    with Image.open(path) as image:
        image.load()
        info = PngInfo()
        for key, value in getattr(image, "text", {}).items():
            if key not in values:
                info.add_itxt(key, value)
        for key, value in values.items():
            info.add_itxt(key, value)
        extra = {name: image.info[name] for name in ("icc_profile", "exif", "dpi") if name in image.info}
        _replace(path, lambda target: image.save(target, "PNG", pnginfo=info, **extra))


def _xmp(values: dict[str, str]) -> bytes:
    return (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        f'<rdf:Description rdf:about="" xmlns:TC260="{XMP_NAMESPACE}" xmlns:lcp="{RECEIPT_NAMESPACE}" '
        f"TC260:{AIGC_KEY}={quoteattr(values[AIGC_KEY])} lcp:{RECEIPT_KEY}={quoteattr(values[RECEIPT_KEY])}/>"
        "</rdf:RDF></x:xmpmeta>"
    ).encode()


def _label_jpeg(path: Path, values: dict[str, str]) -> None:
    from PIL import Image

    with Image.open(path) as image:
        image.load()
        extra = {name: image.info[name] for name in ("icc_profile", "exif", "dpi") if name in image.info}
        # "keep" reuses the file's quantisation tables and subsampling: no visible second generation loss.
        _replace(
            path,
            lambda target: image.save(target, "JPEG", quality="keep", subsampling="keep", xmp=_xmp(values), **extra),
        )


def _label_id3(path: Path, values: dict[str, str], opener) -> None:
    from mutagen.id3 import TXXX

    audio = opener(path)
    if audio.tags is None:
        audio.add_tags()
    for key, value in values.items():
        audio.tags.delall(f"TXXX:{key}")
        audio.tags.add(TXXX(encoding=3, desc=key, text=[value]))
    audio.save()


def _label_mp4(path: Path, values: dict[str, str]) -> None:
    from mutagen.mp4 import MP4, AtomDataType, MP4FreeForm

    video = MP4(path)
    if video.tags is None:
        video.add_tags()
    for key, value in values.items():
        video.tags[MP4_FREEFORM + key] = [MP4FreeForm(value.encode(), dataformat=AtomDataType.UTF8)]
    video.save()


def _sign_c2pa(path: Path, kind: str, registration: dict, credentials: C2paCredentials) -> None:
    import c2pa

    manifest = {
        "claim_generator_info": [{"name": "likeness-consent-client", "version": "0.1.0"}],
        "title": path.name,
        "assertions": [
            {
                "label": "c2pa.actions",
                "data": {"actions": [{"action": "c2pa.created", "digitalSourceType": TRAINED_ALGORITHMIC_MEDIA}]},
            },
            {
                "label": C2PA_ASSERTION,
                "data": {
                    "receipt_id": registration["receipt_id"],
                    "check_url": registration["check_url"],
                    "receipt": registration["receipt"],
                },
            },
        ],
    }
    info = c2pa.C2paSignerInfo(
        credentials.algorithm.encode(),
        credentials.certificate_chain_pem,
        credentials.private_key_pem,
        credentials.timestamp_url.encode() if credentials.timestamp_url else None,
    )
    source = io.BytesIO(path.read_bytes())
    with c2pa.Signer.from_info(info) as signer, c2pa.Builder(manifest) as builder:
        signed = io.BytesIO()
        builder.sign(signer, MEDIA_TYPES[kind], source, signed)
    _replace(path, lambda target: Path(target).write_bytes(signed.getvalue()))


def label_file(path, registration: dict, *, c2pa_credentials: C2paCredentials | None = None) -> str:
    """Write the registration's `AIGC` label and receipt into the file at `path` (in place); returns the media type.

    `registration` is the answer of `POST /api/v1/outputs` (`ConsentClient.output_register`). With
    `c2pa_credentials` a C2PA manifest is signed last, over the labelled file: `c2pa.actions` (created by a
    trained algorithm) and an assertion with the receipt id, the receipt and the public check address.
    """
    path = Path(path)
    values = {
        AIGC_KEY: json.dumps(registration["aigc_label"][AIGC_KEY], ensure_ascii=False, separators=(",", ":")),
        RECEIPT_KEY: registration["receipt"],
    }
    kind = _kind(path)
    if kind == "PNG":
        _label_png(path, values)
    elif kind == "JPEG":
        _label_jpeg(path, values)
    elif kind == "MP3":
        from mutagen.mp3 import MP3

        _label_id3(path, values, MP3)
    elif kind == "WAVE":
        from mutagen.wave import WAVE

        _label_id3(path, values, WAVE)
    else:
        _label_mp4(path, values)
    if c2pa_credentials is not None:
        _sign_c2pa(path, kind, registration, c2pa_credentials)
    return MEDIA_TYPES[kind]


def perceptual_hash(path) -> str | None:
    """The 64-bit pHash (16 hex digits) of an image, or of a video's first key frame; None for audio."""
    import imagehash
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    try:
        with Image.open(path) as image:
            return str(imagehash.phash(image))
    except (UnidentifiedImageError, OSError):
        pass
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                return None
            stream = container.streams.video[0]
            stream.codec_context.skip_frame = "NONKEY"
            for frame in container.decode(stream):
                return str(imagehash.phash(frame.to_image()))
    except av.error.FFmpegError:
        return None
    return None
