"""Recorded consent statements: the person reads a statement on camera or microphone, the recording is
checked against the request's samples (same face, same voice), and a mismatch goes to the organisation's
operators for review. Nothing is granted or refused silently: a grant needs a statement that passed or
was approved (see `consent_grant`)."""

import hashlib
import secrets

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

import audit
from consent import likeness
from consent.errors import InvalidRequest, NotPending, StatementInvalid, StatementNotReviewable
from consent.models import ConsentRequest, Modality, Sample, Statement
from consent.templatetags.consent_labels import modality_label, operation_labels
from identity.crypto import decrypt_bytes, encrypt_bytes
from identity.models import Person
from identity.queueing import enqueue_on_commit

__all__ = [
    "statement_check",
    "statement_erase",
    "statement_evidence",
    "statement_needs_video",
    "statement_record",
    "statement_recording",
    "statement_review",
    "statement_start",
    "statement_text",
]

CONTEXT = "statement.recording"
# The bytes decide the container, not the name or the browser's claim.
CONTAINERS = [
    (b"\x1a\x45\xdf\xa3", 0, "video/webm"),
    (b"ftyp", 4, "video/mp4"),  # also QuickTime, 3GP and M4A: what phones' recorders write
    (b"OggS", 0, "audio/ogg"),
    (b"WAVE", 8, "audio/wav"),
    (b"#!AMR", 0, "audio/amr"),
]


def _modalities(request: ConsentRequest) -> set[str]:
    return {item.modality for item in request.items.all()}


def statement_needs_video(request: ConsentRequest) -> bool:
    return Modality.FACE in _modalities(request)


def statement_text(statement: Statement) -> str:
    """What the person reads aloud, in the language the page was shown in when the number was issued."""
    request = statement.request
    with translation.override(statement.language):
        items = "; ".join(
            f"{modality_label(item.modality)} ({', '.join(operation_labels(item.operations))})"
            for item in request.items.all()
        )
        return _(
            "I, %(name)s, agree that %(organization)s may use %(items)s as this request sets out. "
            "My number is %(number)s."
        ) % {
            "name": statement.person.legal_name,
            "organization": request.organization.name,
            "items": items,
            "number": " ".join(statement.number),
        }


@transaction.atomic
def statement_start(*, person: Person, request_id: int, language: str) -> Statement:
    """The person's statement for a request, issuing its one-time number on the first visit."""
    request = ConsentRequest.objects.select_for_update().get(pk=request_id, person=person)
    statement = Statement.objects.filter(request=request).first()
    if statement is None:
        statement = Statement.objects.create(
            request=request, person=person, number=f"{secrets.randbelow(10**6):06d}", language=language
        )
    return statement


def _sniff(content: bytes) -> str:
    if not content:
        raise StatementInvalid(reason=_("the file is empty."))
    if len(content) > settings.STATEMENT_MAX_BYTES:
        raise StatementInvalid(
            reason=_("it is larger than %(mb)s MB. Record a shorter statement.")
            % {"mb": settings.STATEMENT_MAX_BYTES // (1024 * 1024)}
        )
    for magic, offset, content_type in CONTAINERS:
        if content[offset : offset + len(magic)] == magic:
            return content_type
    raise StatementInvalid(reason=_("it is not a video or audio recording (WebM, MP4, MOV, 3GP, OGG, WAV, AMR)."))


def _probe(content: bytes, *, needs_video: bool) -> tuple[float | None, bool]:
    """(duration, has video) when PyAV is installed; (None, False) without it (the operator reviews)."""
    if likeness.unavailable_reason():
        return None, False
    from consent.likeness import media  # the optional extra: importable only when installed

    try:
        duration = media.duration_seconds(content)
        has_video = bool(media.video_frames(content, limit=1))
    except media.MediaError as exc:
        raise StatementInvalid(reason=_("the recording cannot be played; it may be damaged.")) from exc
    if duration < settings.STATEMENT_MIN_SECONDS:
        raise StatementInvalid(
            reason=_("it lasts %(seconds)s s; read the whole statement (at least %(min)s s).")
            % {"seconds": round(duration, 1), "min": settings.STATEMENT_MIN_SECONDS}
        )
    if duration > settings.STATEMENT_MAX_SECONDS:
        raise StatementInvalid(
            reason=_("it lasts %(seconds)s s; at most %(max)s s are accepted.")
            % {"seconds": round(duration), "max": round(settings.STATEMENT_MAX_SECONDS)}
        )
    if needs_video and not has_video:
        raise StatementInvalid(reason=_("this request is about your face, so the recording must be a video."))
    return duration, has_video


def statement_record(*, person: Person, request_id: int, content: bytes) -> Statement:
    """Store the person's recording (encrypted) and queue the check. Recording again replaces it until
    the statement has passed or been decided by the organisation."""
    content_type = _sniff(content)
    request = ConsentRequest.objects.get(pk=request_id, person=person)
    needs_video = statement_needs_video(request)
    if needs_video and content_type.startswith("audio/"):
        raise StatementInvalid(reason=_("this request is about your face, so the recording must be a video."))
    duration, has_video = _probe(content, needs_video=needs_video)
    with transaction.atomic():
        statement = Statement.objects.select_for_update().select_related("request").get(request_id=request_id)
        if request.state != ConsentRequest.State.PENDING:
            raise NotPending(state=request.get_state_display())
        if statement.state not in (Statement.State.AWAITING, Statement.State.NEEDS_REVIEW):
            raise StatementNotReviewable(state=statement.get_state_display())
        old = statement.file.name
        statement.file.save(
            f"{secrets.token_hex(16)}.enc", ContentFile(encrypt_bytes(content, context=CONTEXT)), save=False
        )
        statement.content_type = content_type
        statement.size = len(content)
        statement.sha256 = hashlib.sha256(content).hexdigest()
        statement.duration_seconds = duration
        statement.has_video = has_video
        statement.recorded_at = timezone.now()
        statement.state = Statement.State.CHECKING
        statement.result = {}
        statement.checked_at = None
        statement.save()
        audit.record(
            person,
            "statement.record",
            statement,
            {"organization": request.organization_id, "sha256": statement.sha256, "size": statement.size},
        )
        if old:
            transaction.on_commit(lambda: default_storage.delete(old))
        from consent.tasks import statement_check_task  # consent.tasks imports the services: a cycle

        enqueue_on_commit(statement_check_task, statement.pk)
    return statement


def statement_recording(statement: Statement) -> bytes:
    with statement.file.open("rb") as handle:
        return decrypt_bytes(handle.read(), context=CONTEXT)


def _samples(request: ConsentRequest, kind: str) -> list[bytes]:
    contents = []
    for sample in Sample.objects.filter(item__request=request, kind=kind).exclude(file=""):
        with sample.file.open("rb") as handle:
            contents.append(handle.read())
    return contents


def _run_check(statement: Statement) -> dict:
    reason = likeness.unavailable_reason()
    if reason:
        return {"passed": False, "failures": ["check_unavailable"], "unavailable": reason}
    from consent.likeness import check, media  # the optional extra: importable only when installed

    modalities = _modalities(statement.request)
    try:
        return check.run(
            recording=statement_recording(statement),
            face_samples=_samples(statement.request, Sample.Kind.IMAGE) if Modality.FACE in modalities else [],
            voice_samples=_samples(statement.request, Sample.Kind.AUDIO) if Modality.VOICE in modalities else [],
            face_max_distance=settings.LIKENESS_FACE_MAX_DISTANCE,
            voice_min_similarity=settings.LIKENESS_VOICE_MIN_SIMILARITY,
        )
    except media.MediaError as exc:
        return {"passed": False, "failures": ["undecodable"], "error": str(exc)[:200]}


def statement_check(*, statement_id: int) -> Statement:
    """Run the same-person check (seconds of CPU, no transaction open) and record the outcome. Idempotent:
    a statement no longer being checked, or recorded again meanwhile, is left as it is."""
    statement = Statement.objects.select_related("request__organization").get(pk=statement_id)
    if statement.state != Statement.State.CHECKING:
        return statement
    checked_sha256 = statement.sha256
    result = _run_check(statement)
    with transaction.atomic():
        statement = Statement.objects.select_for_update().select_related("request").get(pk=statement_id)
        if statement.state != Statement.State.CHECKING or statement.sha256 != checked_sha256:
            return statement
        statement.result = result
        statement.checked_at = timezone.now()
        statement.state = Statement.State.PASSED if result["passed"] else Statement.State.NEEDS_REVIEW
        statement.save(update_fields=["result", "checked_at", "state"])
        audit.record(
            "statement check",
            "statement.check",
            statement,
            {
                "organization": statement.request.organization_id,
                "outcome": statement.state,
                "failures": result["failures"],
            },
        )
    return statement


@transaction.atomic
def statement_review(*, actor, organization, statement_id: int, approve: bool, reason: str) -> Statement:
    """An operator's decision on a statement the check could not confirm: approve (the person may grant)
    or refuse (no item of the request can be granted). The reason is required and audited."""
    statement = Statement.objects.select_for_update().get(pk=statement_id, request__organization=organization)
    if statement.state != Statement.State.NEEDS_REVIEW:
        raise StatementNotReviewable(state=statement.get_state_display())
    reason = reason.strip()[:500]
    if not reason:
        raise InvalidRequest(fields={"reason": [_("Say why: the person and the audit trail see it.")]})
    statement.state = Statement.State.APPROVED if approve else Statement.State.REFUSED
    statement.reviewed_by = actor
    statement.reviewed_at = timezone.now()
    statement.review_reason = reason
    statement.save(update_fields=["state", "reviewed_by", "reviewed_at", "review_reason"])
    audit.record(
        actor,
        "statement.approve" if approve else "statement.refuse",
        statement,
        {"organization": organization.pk, "request": statement.request_id, "reason": reason},
        organization=organization,
    )
    return statement


def statement_erase(*, statement_id: int, actor, reason: str) -> bool:
    """Delete the recording (the hash, scores and decision stay as evidence). True if there was one."""
    with transaction.atomic():
        statement = Statement.objects.select_for_update().select_related("request").get(pk=statement_id)
        name = statement.file.name
        if not name:
            return False
        statement.file = ""
        statement.erased_at = timezone.now()
        statement.save(update_fields=["file", "erased_at"])
        audit.record(
            actor,
            "statement.erase",
            statement,
            {"organization": statement.request.organization_id, "request": statement.request_id, "reason": reason},
        )
        transaction.on_commit(lambda: default_storage.delete(name))
    return True


def _decimal_strings(value):
    """Scores as decimal strings: the receipt is canonical JSON, which has no floats (their text is ambiguous)."""
    if isinstance(value, float):
        return format(value, "g")
    if isinstance(value, dict):
        return {key: _decimal_strings(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_decimal_strings(item) for item in value]
    return value


def statement_evidence(statement: Statement) -> dict:
    """What a consent's evidence (and so its receipt and signed record) says about the statement."""
    return _decimal_strings(_evidence(statement))


def _evidence(statement: Statement) -> dict:
    evidence = {
        "sha256": statement.sha256,
        "number": statement.number,
        "language": statement.language,
        "recorded_at": statement.recorded_at.isoformat() if statement.recorded_at else None,
        "duration_seconds": statement.duration_seconds,
        "outcome": statement.state,
        "checked_at": statement.checked_at.isoformat() if statement.checked_at else None,
        "check": statement.result,
    }
    if statement.reviewed_at:
        evidence["review"] = {
            "by": statement.reviewed_by.get_username() if statement.reviewed_by else "",
            "at": statement.reviewed_at.isoformat(),
            "reason": statement.review_reason,
        }
    return evidence
