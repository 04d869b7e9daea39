"""Consent requests: create (with samples and the frozen terms of each item), notify, resend, cancel."""

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

import audit
from audit.canonical import canonical_json
from consent.errors import (
    CoolingDown,
    InvalidRequest,
    NotPending,
    PersonBlockedOrganization,
    RateLimited,
    ResendLimited,
)
from consent.models import (
    OPERATIONS_BY_MODALITY,
    ApiKey,
    Block,
    ConsentRequest,
    EndUserVerification,
    Modality,
    Notification,
    Operation,
    OrganizationSettings,
    RequestItem,
    Sample,
    StatementPolicy,
)
from consent.samples import sniff_sample
from identity.crypto import mask_phone
from identity.models import Organization
from identity.queueing import enqueue_on_commit
from identity.validators import normalize_phone

__all__ = [
    "ItemInput",
    "RequestInput",
    "SampleInput",
    "request_cancel",
    "request_check",
    "request_create",
    "request_notify_again",
    "terms_for_item",
]

RESEND_INTERVAL = timedelta(minutes=10)
MAX_NOTIFICATIONS = 5


@dataclass
class SampleInput:
    name: str
    content: bytes


@dataclass
class ItemInput:
    modality: str
    operations: list[str]
    purpose: str
    usage: str
    valid_until: date
    samples: list[SampleInput] = field(default_factory=list)


@dataclass
class RequestInput:
    phone: str
    end_user_reference: str
    end_user_verification_method: str
    end_user_verification_reference: str
    end_user_verified_at: datetime
    end_user_prompted_to_notify: bool
    notice_withdrawal: str
    items: list[ItemInput]
    retention_days: int | None = None  # None: SAMPLE_RETENTION_DEFAULT_DAYS
    notice_retention: str = ""
    email: str = ""
    language: str = "zh-hans"
    expires_in_days: int = 7
    notice_recipients: list[str] = field(default_factory=list)  # named recipients; empty: none
    statement_required: bool = False


MAX_RECIPIENTS = 20


def recipients_normalize(names: list[str]) -> list[str]:
    """Names stripped, in the order given, each once."""
    return list(dict.fromkeys(name.strip() for name in names))


def _validate(data: RequestInput, today: date) -> str:
    """The normalised phone number, or InvalidRequest naming every field that needs attention."""
    errors: dict[str, list[str]] = {}

    def err(name, message):
        errors.setdefault(name, []).append(str(message))

    phone = ""
    try:
        phone = normalize_phone(data.phone)
    except ValidationError as exc:
        err("phone", exc.messages[0])
    if not data.end_user_reference.strip():
        err("end_user_reference", _("Say which of your users asks for this (your reference for them)."))
    if data.end_user_verification_method not in EndUserVerification.values:
        err("end_user_verification_method", _("Choose how you verified your user (Provisions Art. 9)."))
    if not data.end_user_verification_reference.strip():
        err("end_user_verification_reference", _("Give the reference of that verification."))
    if data.end_user_verified_at and data.end_user_verified_at > timezone.now() + timedelta(minutes=5):
        err("end_user_verified_at", _("The verification time lies in the future."))
    if not data.end_user_prompted_to_notify:
        err(
            "end_user_prompted_to_notify",
            _("Your user must have been prompted to inform the person whose likeness is edited (Art. 14)."),
        )
    if data.language not in dict(settings.LANGUAGES):
        err("language", _("Choose zh-hans or en."))
    if not 1 <= data.expires_in_days <= 30:
        err("expires_in_days", _("A request stays open between 1 and 30 days."))
    if not data.notice_withdrawal.strip():
        err("notice_withdrawal", _("The notice must say this (PIPL Art. 17)."))
    if data.retention_days is not None and not 0 <= data.retention_days <= settings.SAMPLE_RETENTION_MAX_DAYS:
        err(
            "retention_days",
            _("Samples may be kept between 0 and %(max)s days after the consent ends.")
            % {"max": settings.SAMPLE_RETENTION_MAX_DAYS},
        )
    recipients = data.notice_recipients
    if not isinstance(recipients, list) or not all(isinstance(name, str) for name in recipients):
        err("notice_recipients", _("List the recipients by name; an empty list means there are none."))
    elif len(recipients) > MAX_RECIPIENTS:
        err("notice_recipients", _("At most %(n)s recipients.") % {"n": MAX_RECIPIENTS})
    elif any(not name.strip() or len(name.strip()) > 200 for name in recipients):
        err("notice_recipients", _("Each recipient needs a name of at most 200 characters."))
    if not data.items:
        err("items", _("Add at least one item (face or voice)."))
    elif len(data.items) > settings.REQUEST_MAX_ITEMS:
        err("items", _("At most %(n)s items per request.") % {"n": settings.REQUEST_MAX_ITEMS})
    max_until = today + timedelta(days=settings.CONSENT_MAX_VALIDITY_DAYS)
    for i, item in enumerate(data.items):
        prefix = f"items[{i}]."
        if item.modality not in Modality.values:
            err(prefix + "modality", _("Choose face or voice."))
        else:
            allowed = OPERATIONS_BY_MODALITY[item.modality]
            if not item.operations:
                err(prefix + "operations", _("Choose at least one operation."))
            wrong = sorted(set(item.operations) - {str(op) for op in allowed})
            if wrong:
                err(
                    prefix + "operations",
                    _("%(ops)s is not a %(modality)s operation.")
                    % {"ops": ", ".join(wrong), "modality": item.modality},
                )
        if not item.purpose.strip():
            err(prefix + "purpose", _("Say what the edited likeness is for."))
        if not item.usage.strip():
            err(prefix + "usage", _("Say where the output will be published or used."))
        if item.valid_until <= today:
            err(prefix + "valid_until", _("The end of validity must be after today."))
        elif item.valid_until > max_until:
            err(
                prefix + "valid_until",
                _("At most %(days)s days of validity.") % {"days": settings.CONSENT_MAX_VALIDITY_DAYS},
            )
        if not item.samples:
            err(prefix + "samples", _("Attach at least one reference sample."))
        elif len(item.samples) > settings.SAMPLES_MAX_PER_ITEM:
            err(prefix + "samples", _("At most %(n)s samples per item.") % {"n": settings.SAMPLES_MAX_PER_ITEM})
            continue
        for j, sample in enumerate(item.samples):
            try:
                kind, _type = sniff_sample(sample.content)
            except ValidationError as exc:
                err(f"{prefix}samples[{j}]", f"{sample.name}: {exc.messages[0]}")
                continue
            if item.modality in Modality.values and kind != ("image" if item.modality == Modality.FACE else "audio"):
                err(
                    f"{prefix}samples[{j}]",
                    _("%(name)s is %(kind)s; a %(modality)s item needs the other kind.")
                    % {"name": sample.name, "kind": kind, "modality": item.modality},
                )
    if errors:
        raise InvalidRequest(_("Some fields need attention."), fields=errors)
    return phone


def _refuse_if_blocked_or_cooling(organization: Organization, phone: str, modalities: set[str], now) -> None:
    if Block.objects.filter(person__phone=phone, organization=organization).exists():
        raise PersonBlockedOrganization()
    since = now - timedelta(days=settings.CONSENT_DENIAL_COOLDOWN_DAYS)
    denial = (
        RequestItem.objects.filter(
            request__organization=organization,
            request__person_phone=phone,
            modality__in=modalities,
            state=RequestItem.State.DENIED,
            decided_at__gte=since,
        )
        .order_by("-decided_at")
        .first()
    )
    if denial:
        until = denial.decided_at + timedelta(days=settings.CONSENT_DENIAL_COOLDOWN_DAYS)
        raise CoolingDown(
            modality=denial.get_modality_display(),
            date=timezone.localdate(denial.decided_at).isoformat(),
            until=timezone.localdate(until).isoformat(),
        )


def _refuse_if_notifying_too_much(organization: Organization, phone: str, now) -> None:
    """Caps on notifications, each an SMS: per phone from this organisation and from all, per organisation.

    Counted from the Notification rows themselves, so a refused call writes nothing. Only requests' own
    notices count: the platform's notices of a consent's end are not the organisation's sending.
    """
    day, hour = now - timedelta(days=1), now - timedelta(hours=1)
    sent_by_requests = Notification.objects.filter(consent__isnull=True)
    to_phone = sent_by_requests.filter(request__person_phone=phone, created_at__gte=day)
    checks = [
        (
            to_phone.filter(request__organization=organization),
            settings.NOTIFY_LIMIT_PER_ORGANIZATION_PHONE_DAY,
            timedelta(days=1),
            _("Your organisation has sent this number too many notifications today. Try again after %(when)s."),
        ),
        (
            to_phone,
            settings.NOTIFY_LIMIT_PER_PHONE_DAY,
            timedelta(days=1),
            _("This number has received too many notifications today. Try again after %(when)s."),
        ),
        (
            sent_by_requests.filter(request__organization=organization, created_at__gte=hour),
            settings.NOTIFY_LIMIT_PER_ORGANIZATION_HOUR,
            timedelta(hours=1),
            _("Your organisation has sent too many notifications in the last hour. Try again after %(when)s."),
        ),
    ]
    for sent, limit, window, message in checks:
        if sent.count() >= limit:
            # The window frees up when the oldest notification in it leaves.
            oldest = sent.order_by("created_at").values_list("created_at", flat=True).first() or now
            free_at = oldest + window
            raise RateLimited(
                message,
                retry_after=max(1, int((free_at - now).total_seconds()) + 1),
                when=timezone.localtime(free_at).strftime("%Y-%m-%d %H:%M"),
            )


def terms_for_item(request: ConsentRequest, position: int, item: ItemInput, sample_hashes: list[dict]) -> dict:
    """The exact terms shown to the person for one item; their canonical JSON is what consent is given to."""
    organization = request.organization
    return {
        "version": 1,
        "request_id": request.pk,
        "item": position,
        "language": request.language,
        "controller": {
            "name": organization.name,
            "uscc": organization.uscc,
            "privacy_contact": {
                "name": organization.privacy_contact_name,
                "email": organization.privacy_contact_email,
                "phone": organization.privacy_contact_phone,
            },
            "address": organization.address,
        },
        "end_user": {
            "reference": request.end_user_reference,
            "verification": {
                "method": request.end_user_verification_method,
                "reference": request.end_user_verification_reference,
                "time": request.end_user_verified_at.isoformat(),
            },
        },
        # Masked: enough to tell whom the request was addressed to, and these terms are frozen forever.
        "subject_phone": mask_phone(request.person_phone),
        "modality": item.modality,
        "operations": sorted(item.operations),
        "purpose": item.purpose.strip(),
        "usage": item.usage.strip(),
        "valid_until": item.valid_until.isoformat(),
        "samples": sample_hashes,
        "notice": {
            "processor": request.notice_processor,
            "contact": request.notice_contact,
            "retention_days": request.retention_days,
            "retention": request.notice_retention,
            "withdrawal": request.notice_withdrawal,
            "recipients": request.notice_recipients,
        },
        # Only when asked, so that the terms (and digests) of requests without a statement are as before.
        **({"statement_required": True} if request.statement_required else {}),
    }


def _statement_required(organization: Organization, data: RequestInput) -> bool:
    """Asked by the request, or required by the organisation's policy (for voice cloning or always)."""
    settings_row = OrganizationSettings.objects.filter(organization=organization)
    policy = settings_row.values_list("statement_policy", flat=True).first()
    if data.statement_required or policy == StatementPolicy.ALWAYS:
        return True
    return policy == StatementPolicy.VOICE_CLONING and any(
        Operation.VOICE_CLONING in item.operations for item in data.items
    )


def request_check(*, data: RequestInput) -> None:
    """Raise InvalidRequest naming every field of `data` that request_create would refuse; changes nothing.

    The office form calls it when its own checks failed too, so an operator sees every error at once.
    """
    _validate(data, timezone.localdate())


@transaction.atomic
def request_create(*, actor, organization: Organization, data: RequestInput) -> ConsentRequest:
    """Create a request for one person with one or more items; the notification is queued after commit."""
    now = timezone.now()
    phone = _validate(data, timezone.localdate())
    _refuse_if_blocked_or_cooling(organization, phone, {i.modality for i in data.items}, now)
    _refuse_if_notifying_too_much(organization, phone, now)
    org = organization
    contact = f"{org.privacy_contact_name} <{org.privacy_contact_email}> {org.privacy_contact_phone}"
    request = ConsentRequest.objects.create(
        organization=organization,
        code=secrets.token_urlsafe(24),  # 192 bits: the link cannot be guessed
        created_by_user=actor if not isinstance(actor, ApiKey) else None,
        created_by_key=actor if isinstance(actor, ApiKey) else None,
        end_user_reference=data.end_user_reference.strip(),
        end_user_verification_method=data.end_user_verification_method,
        end_user_verification_reference=data.end_user_verification_reference.strip(),
        end_user_verified_at=data.end_user_verified_at,
        end_user_prompted_to_notify=True,
        person_phone=phone,
        person_email=data.email.strip(),
        language=data.language,
        notice_processor=organization.name,
        notice_contact=contact,
        retention_days=settings.SAMPLE_RETENTION_DEFAULT_DAYS if data.retention_days is None else data.retention_days,
        notice_retention=data.notice_retention.strip(),
        notice_withdrawal=data.notice_withdrawal.strip(),
        notice_recipients=recipients_normalize(data.notice_recipients),
        expires_at=now + timedelta(days=data.expires_in_days),
        statement_required=_statement_required(organization, data),
    )
    for position, item_input in enumerate(data.items, start=1):
        prepared = []
        for sample in item_input.samples:
            kind, content_type = sniff_sample(sample.content)
            prepared.append((sample, kind, content_type, hashlib.sha256(sample.content).hexdigest()))
        hashes = [{"sha256": digest, "kind": kind} for _s, kind, _t, digest in prepared]
        terms = canonical_json(terms_for_item(request, position, item_input, hashes)).decode()
        item = RequestItem.objects.create(
            request=request,
            position=position,
            modality=item_input.modality,
            operations=sorted(item_input.operations),
            purpose=item_input.purpose.strip(),
            usage=item_input.usage.strip(),
            valid_until=item_input.valid_until,
            terms_json=terms,
            terms_sha256=hashlib.sha256(terms.encode()).hexdigest(),
        )
        for sample, kind, content_type, digest in prepared:
            stored = Sample(item=item, kind=kind, content_type=content_type, size=len(sample.content), sha256=digest)
            stored.original_name = sample.name[:200]
            # Never the bare digest: the same bytes in two requests would share one object on object
            # storage, and deleting one person's samples would delete the other's.
            stored.file.save(f"{digest}-{secrets.token_hex(8)}", ContentFile(sample.content), save=False)
            stored.save()
    audit.record(
        actor,
        "request.create",
        request,
        {
            "organization": organization.pk,
            "items": len(data.items),
            "expires_at": request.expires_at.isoformat(),
            **({"statement_required": True} if request.statement_required else {}),
        },
    )
    _notification_queue(request, reason="initial", requested_by=str(actor))
    return request


def _notification_queue(request: ConsentRequest, *, reason: str, requested_by: str) -> Notification:
    from consent.tasks import request_notify_task  # consent.tasks imports this module: a cycle

    notification = Notification.objects.create(request=request, reason=reason, requested_by=requested_by[:200])
    enqueue_on_commit(request_notify_task, notification.pk)
    return notification


@transaction.atomic
def request_notify_again(*, actor, organization: Organization, request_id: int) -> Notification:
    """Resend the notification: at most every 10 minutes and 5 times per request."""
    request = ConsentRequest.objects.select_for_update().get(pk=request_id, organization=organization)
    if request.state != ConsentRequest.State.PENDING:
        raise NotPending(state=request.get_state_display())
    sent = request.notifications.filter(consent__isnull=True)  # not the notices of a granted item's end
    last = sent.order_by("-created_at").first()
    if sent.count() >= MAX_NOTIFICATIONS:
        raise ResendLimited(
            _("This request was already sent %(n)s times; it cannot be sent again."), n=MAX_NOTIFICATIONS
        )
    if last and last.created_at > timezone.now() - RESEND_INTERVAL:
        raise ResendLimited(when=timezone.localtime(last.created_at + RESEND_INTERVAL).strftime("%H:%M"))
    _refuse_if_notifying_too_much(organization, request.person_phone, timezone.now())
    notification = _notification_queue(request, reason="resend", requested_by=str(actor))
    audit.record(actor, "request.resend", request, {"organization": request.organization_id})
    return notification


@transaction.atomic
def request_cancel(*, actor, organization: Organization, request_id: int) -> ConsentRequest:
    """Withdraw a pending request; items not yet decided become cancelled, decided ones stay as they are."""
    request = ConsentRequest.objects.select_for_update().get(pk=request_id, organization=organization)
    if request.state != ConsentRequest.State.PENDING:
        raise NotPending(state=request.get_state_display())
    request.state = ConsentRequest.State.CANCELLED
    request.closed_at = timezone.now()
    request.save(update_fields=["state", "closed_at"])
    cancelled = request.items.filter(state=RequestItem.State.PENDING).update(
        state=RequestItem.State.CANCELLED, decided_at=request.closed_at
    )
    audit.record(actor, "request.cancel", request, {"organization": request.organization_id, "items": cancelled})
    return request
