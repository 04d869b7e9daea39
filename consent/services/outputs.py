"""Output provenance: register a generated output under the consent that allowed it; mark it on withdrawal."""

import io
import re
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from PIL import Image, UnidentifiedImageError

import audit
from consent.errors import (
    ConsentNotActive,
    MediaTypeNotConsented,
    OutputRegisteredElsewhere,
    PresentationNotActive,
    PresentationNotFound,
    PresentationTooOld,
    ThumbnailInvalid,
)
from consent.models import ApiKey, Consent, Modality, Output, OutputDisplay, OutputHashBand, Presentation
from consent.provenance.labels import receipt_claims
from consent.services.webhooks import webhook_event_add
from consent.tokens import provenance_receipt_sign
from identity.models import Person

__all__ = [
    "THUMBNAIL_MAX_BYTES",
    "output_display_set",
    "output_register",
    "outputs_mark_withdrawn",
]

THUMBNAIL_MAX_BYTES = 64 * 1024
THUMBNAIL_SIDE = 160
MEDIA_KINDS = {Modality.FACE: ("image/", "video/"), Modality.VOICE: ("audio/", "video/")}
MEDIA_TYPE = re.compile(r"^(image|audio|video)/[a-z0-9][a-z0-9.+-]{0,80}$")


def _thumbnail(content: bytes) -> bytes:
    """The service's thumbnail, re-encoded small by Pillow: a face image is personal data, keep no more of it."""
    if not content:
        return b""
    if len(content) > THUMBNAIL_MAX_BYTES:
        raise ThumbnailInvalid(kb=THUMBNAIL_MAX_BYTES // 1024)
    try:
        with Image.open(io.BytesIO(content)) as image:
            if image.format not in ("PNG", "JPEG"):
                raise ThumbnailInvalid(kb=THUMBNAIL_MAX_BYTES // 1024)
            image.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE))
            buffer = io.BytesIO()
            image.convert("RGB").save(buffer, "JPEG", quality=80)  # and no metadata travels along
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError, ValueError) as exc:
        raise ThumbnailInvalid(kb=THUMBNAIL_MAX_BYTES // 1024) from exc
    return buffer.getvalue()


def output_register(
    *,
    actor: ApiKey,
    presentation_id: int,
    sha256: str,
    media_type: str,
    perceptual_hash: str = "",
    thumbnail: bytes = b"",
    now: datetime | None = None,
) -> tuple[Output, bool]:
    """Register a generated output under the consent its verify call (presentation) found active.

    Returns (output, replayed). Idempotent by the output's SHA-256 within the organisation: the same file
    again answers the first registration (under the same consent) instead of a second one.
    """
    sha256, media_type, perceptual_hash = sha256.lower(), media_type.lower(), perceptual_hash.lower()
    small = _thumbnail(thumbnail)  # Pillow's work before the transaction (and its locks)
    try:
        return _register(
            actor=actor,
            presentation_id=presentation_id,
            sha256=sha256,
            media_type=media_type,
            perceptual_hash=perceptual_hash,
            thumbnail=small,
            now=now or timezone.now(),
        )
    except IntegrityError:
        # The same file registered at the same moment by another call (under another consent): answer as
        # if this call had come second, which it did.
        return _register(
            actor=actor,
            presentation_id=presentation_id,
            sha256=sha256,
            media_type=media_type,
            perceptual_hash=perceptual_hash,
            thumbnail=small,
            now=now or timezone.now(),
        )


@transaction.atomic
def _register(
    *,
    actor: ApiKey,
    presentation_id: int,
    sha256: str,
    media_type: str,
    perceptual_hash: str,
    thumbnail: bytes,
    now: datetime,
) -> tuple[Output, bool]:
    organization = actor.organization
    presentation = Presentation.objects.filter(pk=presentation_id, organization_id=organization.pk).first()
    if presentation is None or presentation.consent_id is None:
        raise PresentationNotFound()
    # Locked as consent_revoke locks it: a withdrawal either sees this output and marks it, or comes first.
    consent = Consent.objects.select_for_update().get(pk=presentation.consent_id)
    existing = Output.objects.filter(organization=organization, sha256=sha256).first()
    if existing is not None:
        if existing.consent_id != consent.pk:
            raise OutputRegisteredElsewhere()
        return existing, True
    if presentation.result != Presentation.Result.ACTIVE:
        raise PresentationNotActive()
    max_age = settings.OUTPUT_PRESENTATION_MAX_AGE_MINUTES
    if presentation.created_at < now - timedelta(minutes=max_age):
        raise PresentationTooOld(minutes=max_age)
    if consent.state != Consent.State.ACTIVE or consent.valid_until < now:
        state = consent.get_state_display() if consent.state != Consent.State.ACTIVE else Consent.State.EXPIRED.label
        raise ConsentNotActive(state=state)
    if not MEDIA_TYPE.match(media_type) or not media_type.startswith(MEDIA_KINDS[consent.modality]):
        raise MediaTypeNotConsented(modality=consent.get_modality_display(), media_type=media_type)
    output = Output(
        organization=organization,
        consent=consent,
        presentation=presentation,
        api_key=actor,
        sha256=sha256,
        media_type=media_type,
        perceptual_hash=perceptual_hash,
        thumbnail=thumbnail,
    )
    output.created_at = now
    output.receipt = provenance_receipt_sign(
        claims=receipt_claims(output), keep_published_until=now + timedelta(days=settings.AUDIT_RETENTION_DAYS)
    )
    with transaction.atomic():  # a savepoint: a concurrent twin's IntegrityError must not poison the caller
        output.save(force_insert=True)
        OutputHashBand.objects.bulk_create(
            OutputHashBand(output=output, band=band, value=value) for band, value in OutputHashBand.of(perceptual_hash)
        )
    audit.record(
        actor,
        "output.register",
        output,
        {
            "organization": organization.pk,
            "consent": consent.pk,
            "presentation": presentation.pk,
            "receipt_id": str(output.public_id),
            "sha256": sha256,
            "media_type": media_type,
        },
    )
    return output, False


def outputs_mark_withdrawn(*, consent: Consent, now: datetime) -> int:
    """Inside the withdrawal's transaction: mark the consent's outputs and tell the organisation, one webhook
    `output.consent_withdrawn` per output, so that it can take each one down."""
    outputs = list(Output.objects.select_for_update().filter(consent=consent, consent_withdrawn_at__isnull=True))
    for output in outputs:
        output.consent_withdrawn_at = now
        output.save(update_fields=["consent_withdrawn_at"])
        webhook_event_add(
            organization=consent.organization,
            type="output.consent_withdrawn",
            payload={
                "receipt_id": str(output.public_id),
                "sha256": output.sha256,
                "media_type": output.media_type,
                "consent_id": consent.pk,
                "registered_at": output.created_at.isoformat(),
            },
        )
    if outputs:
        audit.record(
            "withdrawal",
            "output.consent_withdrawn",
            consent,
            {"organization": consent.organization_id, "outputs": [str(o.public_id) for o in outputs]},
        )
    return len(outputs)


@transaction.atomic
def output_display_set(*, actor: Person, show_thumbnails: bool) -> OutputDisplay:
    """The person's opt-in (or opt-out) to see the thumbnails services send with their outputs."""
    display, _created = OutputDisplay.objects.select_for_update().get_or_create(person=actor)
    if display.show_thumbnails != show_thumbnails:
        display.show_thumbnails = show_thumbnails
        display.save(update_fields=["show_thumbnails", "updated_at"])
        audit.record(actor, "output.display_set", actor, {"show_thumbnails": show_thumbnails})
    return display
