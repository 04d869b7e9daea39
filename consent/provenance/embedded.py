"""What an uploaded file says about itself: the `AIGC` label, our receipt, a C2PA manifest, its perceptual hash.

Containers are read by maintained libraries only (Pillow, mutagen, PyAV, c2pa-python). Nothing here is
trusted: the public check compares it with what was registered and verifies signatures.
"""

import io
import json
import logging
from dataclasses import dataclass, field

import av
import imagehash
import mutagen
from django.conf import settings
from PIL import Image, UnidentifiedImageError

from consent.provenance.labels import AIGC_KEY, C2PA_ASSERTION

logger = logging.getLogger(__name__)

RECEIPT_KEY = "ProvenanceReceipt"
MP4_FREEFORM = "----:com.apple.iTunes:"
MEDIA_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "MP3": "audio/mpeg", "WAVE": "audio/wav", "MP4": "video/mp4"}
# A public endpoint must not fetch what a file points to (remote manifests, OCSP): no requests on its behalf.
C2PA_SETTINGS = {"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False}}


@dataclass
class Embedded:
    media_type: str = ""
    label: dict | None = None
    receipt: str = ""
    c2pa: dict | None = None
    c2pa_available: bool = True
    perceptual_hash: str = ""
    notes: list[str] = field(default_factory=list)


def _json_object(text) -> dict | None:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    try:
        value = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _xmp_description(xmp: dict) -> dict:
    description = xmp.get("xmpmeta", {}).get("RDF", {}).get("Description", {})
    if isinstance(description, list):  # several rdf:Description elements: merge them
        merged = {}
        for part in description:
            if isinstance(part, dict):
                merged.update(part)
        return merged
    return description if isinstance(description, dict) else {}


def _read_image(content: bytes, found: Embedded) -> bool:
    try:
        with Image.open(io.BytesIO(content)) as image:
            if image.format not in MEDIA_TYPES:
                return False
            found.media_type = MEDIA_TYPES[image.format]
            width, height = image.size
            if width * height > settings.SAMPLE_MAX_PIXELS:
                found.notes.append("too_many_pixels")
                return True
            values = dict(getattr(image, "text", {})) if image.format == "PNG" else _xmp_description(image.getxmp())
            found.label = _json_object(values.get(AIGC_KEY))
            found.receipt = str(values.get(RECEIPT_KEY, ""))
            found.perceptual_hash = str(imagehash.phash(image))
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError, ValueError, SyntaxError):
        return bool(found.media_type)
    return True


def _video_phash(content: bytes) -> str:
    try:
        with av.open(io.BytesIO(content)) as container:
            if not container.streams.video:
                return ""
            stream = container.streams.video[0]
            stream.codec_context.skip_frame = "NONKEY"
            for frame in container.decode(stream):
                return str(imagehash.phash(frame.to_image()))
    except (av.error.FFmpegError, ValueError, OSError):
        return ""
    return ""


def _read_tagged(content: bytes, found: Embedded) -> None:
    try:
        audio = mutagen.File(io.BytesIO(content))
    except (mutagen.MutagenError, ValueError, OSError):
        audio = None
    kind = type(audio).__name__ if audio is not None else ""
    if kind not in MEDIA_TYPES:
        return
    found.media_type = MEDIA_TYPES[kind]
    tags = audio.tags or {}
    if kind == "MP4":
        values = {key: tags.get(MP4_FREEFORM + key, [b""])[0] for key in (AIGC_KEY, RECEIPT_KEY)}
        values = {key: bytes(value).decode("utf-8", "replace") for key, value in values.items()}
    else:
        values = {}
        for key in (AIGC_KEY, RECEIPT_KEY):
            frame = tags.get(f"TXXX:{key}") if hasattr(tags, "get") else None
            values[key] = frame.text[0] if frame is not None and frame.text else ""
    found.label = _json_object(values[AIGC_KEY])
    found.receipt = values[RECEIPT_KEY]
    if kind == "MP4":
        found.perceptual_hash = _video_phash(content)


def _read_c2pa(content: bytes, found: Embedded) -> None:
    try:
        import c2pa  # optional (the `c2pa` extra): imported here so the check works without it
    except ImportError:  # the optional `c2pa` extra is not installed
        found.c2pa_available = False
        return
    try:
        context = c2pa.Context.from_dict(C2PA_SETTINGS)
        with c2pa.Reader(found.media_type, io.BytesIO(content), None, context) as reader:
            manifest = reader.get_active_manifest() or {}
            state = reader.get_validation_state() or ""
            results = reader.get_validation_results() or {}
    except c2pa.C2paError as exc:
        if "ManifestNotFound" not in str(exc) and "JUMBF" not in str(exc):
            found.c2pa = {"state": "Invalid", "error": str(exc)[:200]}
        return
    failures = [f.get("code", "") for f in (results.get("activeManifest") or {}).get("failure", [])]
    ours = next((a.get("data", {}) for a in manifest.get("assertions", []) if a.get("label") == C2PA_ASSERTION), {})
    signature = manifest.get("signature_info") or {}
    found.c2pa = {
        "state": state,
        "failures": failures,
        "signer": signature.get("common_name") or signature.get("issuer") or "",
        "receipt_id": str(ours.get("receipt_id", "")),
        "receipt": str(ours.get("receipt", "")),
        "ai_generated": any(
            action.get("digitalSourceType", "").endswith("/trainedAlgorithmicMedia")
            for assertion in manifest.get("assertions", [])
            if assertion.get("label", "").startswith("c2pa.actions")
            for action in assertion.get("data", {}).get("actions", [])
        ),
    }


def read_embedded(content: bytes) -> Embedded:
    """Everything the file carries that the check can use; never raises on a strange file."""
    found = Embedded()
    if not _read_image(content, found):
        _read_tagged(content, found)
    if found.media_type:
        _read_c2pa(content, found)
    return found
