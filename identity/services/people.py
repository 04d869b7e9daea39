"""People: SMS-code sign-in with limits, real-name verification, guardians for children under 14."""

import math
import secrets
from contextlib import contextmanager
from datetime import date, timedelta

from django.conf import settings
from django.contrib.auth import login
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_otp import login as otp_login

import audit
from identity import limits
from identity.crypto import blind_index, encrypt, mask_id_number, mask_name, phone_index
from identity.errors import (
    CodeRejected,
    GuardianInvalid,
    IdentityConflict,
    IdentityLimited,
    IdentityNotMatched,
    SendLimited,
    VerifierUnavailable,
)
from identity.limits import refusal_note
from identity.models import Guardian, IdentityCheck, Person, PhoneDevice, SmsSend, User
from identity.net import client_ip
from identity.queueing import enqueue_on_commit
from identity.realname import Outcome, VerificationResult, realname_verify
from identity.validators import age_on, validate_resident_id

__all__ = [
    "ADULT_AGE",
    "CHILD_AGE",
    "guardian_verify",
    "person_erase",
    "person_for_phone",
    "person_identity_verify",
    "person_signin",
    "signin_code_send",
    "sms_code_send",
    "sms_code_verify",
    "sms_code_wait_seconds",
    "today",
]

CHILD_AGE = 14  # PIPL Art. 31: under 14 a guardian decides
ADULT_AGE = 18
SIGNIN = "signin"


def today() -> date:
    return timezone.localdate()


@transaction.atomic
def person_for_phone(*, phone: str) -> Person:
    """The person behind a (normalised, E.164) phone number, created on first contact."""
    person = Person.objects.select_for_update().filter(phone=phone).first()
    if person:
        return person
    user = User(username=f"person-{secrets.token_hex(8)}")
    user.set_unusable_password()
    user.save()
    person = Person.objects.create(user=user, phone=phone)
    audit.record("system", "person.create", person, {})
    return person


def _device(person: Person) -> PhoneDevice:
    device = PhoneDevice.objects.select_for_update().filter(user=person.user).first()
    if device is None:
        device = PhoneDevice.objects.create(user=person.user, name="sms", phone=person.phone, confirmed=True)
    return device


def _send_limits_check(phone: str, ip: str | None, now) -> None:
    """The ledger limits on codes; a refusal is counted in the cache, never as a row."""
    day_count = SmsSend.objects.filter(phone_index=phone_index(phone), created_at__gte=now - timedelta(days=1)).count()
    if day_count >= settings.SMS_SEND_LIMIT_PER_PHONE_DAY:
        refusal_note("sms_send_phone", phone_index(phone))
        raise SendLimited(_("This number has received too many codes today. Try again tomorrow."))
    if ip:
        ip_count = SmsSend.objects.filter(ip=ip, created_at__gte=now - timedelta(hours=1)).count()
        if ip_count >= settings.SMS_SEND_LIMIT_PER_IP_HOUR:
            refusal_note("sms_send_ip", ip)
            raise SendLimited(_("Too many codes were requested from your network. Try again in an hour."))


@transaction.atomic
def signin_code_send(*, phone: str, ip: str | None) -> PhoneDevice:
    """Send a sign-in code to a (normalised) phone, creating its person on first contact.

    The limits come first, so a refused attempt creates no user, person or audit row; the person is only
    created when a code really goes out, which the same limits bound.
    """
    _send_limits_check(phone, ip, timezone.now())
    return sms_code_send(person=person_for_phone(phone=phone), ip=ip)


@transaction.atomic
def sms_code_send(*, person: Person, ip: str | None, bound_to: str = SIGNIN, subject: str = "") -> PhoneDevice:
    """Issue a fresh 6-digit code (valid 5 minutes) and queue the SMS after commit.

    `subject` names, in the SMS, what the code is for (the caller's words, e.g. organisation and item);
    identity knows nothing of consent, so the caller supplies them.

    Limits against SMS pumping: one code per phone per cooldown (60 s), a daily cap per phone and an
    hourly cap per client address. A new code replaces any earlier one, so a code bound to one set of
    terms can never be used for another.
    """
    now = timezone.now()
    _send_limits_check(person.phone, ip, now)
    device = _device(person)
    allowed, info = device.generate_is_allowed()
    if not allowed:
        wait = math.ceil((info["next_generation_at"] - now).total_seconds()) if info.get("next_generation_at") else 60
        raise SendLimited(_("A code was just sent. You can ask for another in %(seconds)s seconds."), seconds=wait)
    device.bound_to = bound_to
    device.phone = person.phone
    device.throttle_reset(commit=False)
    device.generate_token(valid_secs=settings.SMS_CODE_VALID_SECONDS, commit=False)
    device.cooldown_set(commit=False)
    device.save()
    SmsSend.objects.create(
        phone_index=phone_index(person.phone), ip=ip, purpose="grant" if bound_to != SIGNIN else SIGNIN
    )
    audit.record(person, "person.code_sent", person, {"purpose": "grant" if bound_to != SIGNIN else SIGNIN})
    # Imported here: identity.tasks -> identity.sms -> identity.services.operators closes a cycle.
    from identity.tasks import sms_code_deliver_task, sms_code_idempotency_key

    enqueue_on_commit(sms_code_deliver_task, device.pk, subject[:40], sms_code_idempotency_key(device))
    return device


def sms_code_wait_seconds(*, person: Person) -> int:
    """Seconds until this person may ask for another code (0: now); pages show it as a countdown."""
    device = PhoneDevice.objects.filter(user=person.user).first()
    if device is None:
        return 0
    allowed, info = device.generate_is_allowed()
    if allowed or not info.get("next_generation_at"):
        return 0
    return max(0, math.ceil((info["next_generation_at"] - timezone.now()).total_seconds()))


def sms_code_verify(*, person: Person, code: str, bound_to: str = SIGNIN) -> PhoneDevice:
    """Check a code. Wrong codes back off exponentially; after 5 the code is void and a new one is needed.

    Failures are committed before the error is raised, so that the count survives the caller's error path.
    """
    with transaction.atomic():
        device = _device(person)
        error = _code_check(person, device, code.strip(), bound_to)
    if error:
        raise error
    return device


def _code_check(person: Person, device: PhoneDevice, code: str, bound_to: str) -> CodeRejected | None:
    now = timezone.now()
    if not device.token:
        return CodeRejected(_("There is no valid code for this number. Ask for a new code."))
    allowed, info = device.verify_is_allowed()
    if not allowed:
        wait = math.ceil((info["locked_until"] - now).total_seconds()) if info.get("locked_until") else 1
        return CodeRejected(_("Too many wrong codes. Wait %(seconds)s seconds, then try again."), seconds=wait)
    if device.valid_until and device.valid_until < now:
        return CodeRejected(_("This code has expired (codes are valid for 5 minutes). Ask for a new code."))
    if device.bound_to != bound_to:
        device.throttle_increment()
        audit.record(person, "person.code_failed", person, {"reason": "bound_to_other_terms"})
        return CodeRejected(
            _("This code was issued for something else. Ask for a new code for exactly what is shown here.")
        )
    if device.verify_token(code):
        return None
    failures = device.throttling_failure_count
    audit.record(person, "person.code_failed", person, {"failures": failures})
    if failures >= settings.SMS_CODE_MAX_FAILURES:
        device.token, device.valid_until = None, now
        device.save(update_fields=["token", "valid_until"])
        audit.record(person, "person.code_locked", person, {"failures": failures})
        return CodeRejected(_("Too many wrong codes: this code no longer works. Ask for a new code."))
    return CodeRejected(
        _("Wrong code. Check the SMS and try again: %(left)s tries left."),
        left=settings.SMS_CODE_MAX_FAILURES - failures,
    )


def person_signin(*, request, person: Person, device: PhoneDevice) -> None:
    """Sign the person in (the session key is rotated) and mark the OTP step done."""
    login(request, person.user, backend="django.contrib.auth.backends.ModelBackend")
    otp_login(request, device)
    audit.record(person, "person.signin", person, {"ip": client_ip(request)})


def _check_record(person: Person, subject: str, result: VerificationResult, ip: str | None) -> IdentityCheck:
    return IdentityCheck.objects.create(
        person=person,
        subject=subject,
        method=result.method,
        backend=result.backend,
        reference=result.reference[:100],
        outcome=result.outcome,
        detail=result.detail[:300],
        ip=ip,
        phone_index=phone_index(person.phone),
    )


def _outcome(person: Person, subject: str, result: VerificationResult, ip: str | None) -> IdentityCheck:
    check = _check_record(person, subject, result, ip)
    audit.record(person, f"{'person' if subject == 'self' else 'guardian'}.verify", person, check.as_evidence())
    return check


def _identity_limits_check(person: Person, ip: str | None) -> None:
    """Daily caps on real-name checks per person, per phone and per client address, before the paid call.

    Every call leaves an IdentityCheck row, so the rows are the ledger; refusals only bump a cache counter.
    """
    since = timezone.now() - timedelta(days=1)
    recent = IdentityCheck.objects.filter(created_at__gte=since)
    per_person = settings.IDENTITY_CHECK_LIMIT_PER_PERSON_DAY
    if (
        recent.filter(person=person).count() >= per_person
        or recent.filter(phone_index=phone_index(person.phone)).count() >= per_person
    ):
        refusal_note("identity_person", str(person.pk), window_seconds=86400)
        raise IdentityLimited()
    if ip and recent.filter(ip=ip).count() >= settings.IDENTITY_CHECK_LIMIT_PER_IP_DAY:
        refusal_note("identity_ip", ip, window_seconds=86400)
        raise IdentityLimited()


@contextmanager
def _one_check_at_a_time(person: Person):
    """Checks of one person run one after another, so parallel submissions cannot all pass the cap."""
    if not limits.claim("identity_inflight", str(person.pk), seconds=120):
        raise IdentityLimited(_("An identity check is already running. Wait a moment, then try again."))
    try:
        yield
    finally:
        limits.release("identity_inflight", str(person.pk))


def person_identity_verify(*, person: Person, legal_name: str, id_number: str, ip: str | None = None) -> Person:
    """Real-name check (Provisions Art. 9) of the signed-in person; the slow call runs outside any transaction.

    Within the daily caps only. Whether the ID number is bound to another person is told only after the
    provider matched this name to it: before that, the answer would be an oracle for ID numbers.
    """
    parsed = validate_resident_id(id_number)  # ValidationError with a precise message
    legal_name = legal_name.strip()
    index = blind_index(parsed.number, purpose="id_number")
    with _one_check_at_a_time(person):
        _identity_limits_check(person, ip)
        result = realname_verify(name=legal_name, id_number=parsed.number, phone=person.phone)
    conflict = False
    with transaction.atomic():
        person = Person.objects.select_for_update().get(pk=person.pk)
        check = _outcome(person, IdentityCheck.Subject.SELF, result, ip)
        conflict = (
            result.outcome == Outcome.MATCHED
            and Person.objects.filter(id_number_index=index).exclude(pk=person.pk).exists()
        )
        if result.outcome == Outcome.MATCHED and not conflict:
            person.legal_name_enc = encrypt(legal_name, context="person.legal_name")
            person.id_number_enc = encrypt(parsed.number, context="person.id_number")
            person.id_number_index = index
            person.legal_name_masked = mask_name(legal_name)
            person.id_number_masked = mask_id_number(parsed.number)
            person.id_kind = parsed.kind
            person.verified_at = timezone.now()
            person.verification = check
            person.save()
        elif conflict:
            audit.record(person, "person.verify_conflict", person, {"check": check.pk})
    if conflict:
        raise IdentityConflict()
    _raise_unless_matched(result)
    return person


def guardian_verify(
    *, child: Person, legal_name: str, id_number: str, relationship: str, ip: str | None = None
) -> Guardian:
    """A guardian of a child under 14 proves their own identity and states the relationship."""
    parsed = validate_resident_id(id_number)
    legal_name = legal_name.strip()
    if relationship not in Guardian.Relationship.values:
        raise GuardianInvalid(_("Choose how you are related to the child."))
    if age_on(parsed.birth_date, today()) < ADULT_AGE:
        raise GuardianInvalid(_("A guardian must be an adult (18 or older)."))
    if parsed.number == child.id_number:
        raise GuardianInvalid(_("The guardian's ID number must not be the child's."))
    with _one_check_at_a_time(child):
        _identity_limits_check(child, ip)
        result = realname_verify(name=legal_name, id_number=parsed.number, phone=child.phone)
    with transaction.atomic():
        child = Person.objects.select_for_update().get(pk=child.pk)
        check = _outcome(child, IdentityCheck.Subject.GUARDIAN, result, ip)
        if result.outcome != Outcome.MATCHED:
            guardian = None
        else:
            guardian = _guardian_store(child, check, parsed, legal_name, relationship)
    _raise_unless_matched(result)
    return guardian


def _raise_unless_matched(result: VerificationResult) -> None:
    if result.outcome == Outcome.UNAVAILABLE:
        raise VerifierUnavailable()
    if result.outcome != Outcome.MATCHED:
        raise IdentityNotMatched()


def _guardian_store(child, check, parsed, legal_name, relationship) -> Guardian:
    values = {
        "legal_name_enc": encrypt(legal_name, context="guardian.legal_name"),
        "id_number_enc": encrypt(parsed.number, context="guardian.id_number"),
        "id_number_index": blind_index(parsed.number, purpose="id_number"),
        "legal_name_masked": mask_name(legal_name),
        "id_number_masked": mask_id_number(parsed.number),
        "relationship": relationship,
        "verification": check,
        "verified_at": timezone.now(),
    }
    guardian, _created = Guardian.objects.update_or_create(child=child, defaults=values)
    audit.record(child, "guardian.set", guardian, {"relationship": relationship})
    return guardian


@transaction.atomic
def person_erase(*, person: Person) -> Person:
    """Erase a person's identity data (PIPL Art. 47). Masked forms stay on decided consents as their proof."""
    person = Person.objects.select_for_update().get(pk=person.pk)
    person.legal_name_enc = person.id_number_enc = person.email = ""
    person.id_number_index = None
    person.phone = f"erased-{person.pk}"
    person.erased_at = timezone.now()
    person.save(update_fields=["legal_name_enc", "id_number_enc", "email", "id_number_index", "phone", "erased_at"])
    guardian = Guardian.objects.filter(child=person).first()
    if guardian:
        guardian.legal_name_enc = guardian.id_number_enc = guardian.id_number_index = ""
        guardian.save(update_fields=["legal_name_enc", "id_number_enc", "id_number_index"])
    PhoneDevice.objects.filter(user=person.user).delete()
    person.user.is_active = False
    person.user.save(update_fields=["is_active"])
    audit.record(person, "person.erase", person, {})
    return person
