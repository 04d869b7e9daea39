import math
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.password_validation import validate_password
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

import audit
from identity import limits
from identity.errors import OperatorLocked
from identity.models import Membership, Organization, OutboxMessage, User
from identity.net import client_ip
from identity.validators import normalize_phone, validate_uscc

__all__ = [
    "backup_codes_regenerate",
    "membership_remove",
    "membership_set",
    "operator_authenticate",
    "operator_create",
    "operator_event_record",
    "operator_otp_locked_until",
    "operator_otp_verify",
    "operator_set_password",
    "organization_create",
    "organization_update",
    "outbox_message_add",
    "totp_device_confirmed",
    "totp_enrolment_confirm",
    "totp_enrolment_start",
]

BACKUP_CODE_COUNT = 10
LOGIN_FAILURES = "operator_login"
LOGIN_FAILURES_PER_ADDRESS = "operator_login_ip"


def operator_event_record(actor, action: str, user: User | None, data: dict) -> None:
    """Record an event about an operator once for each organisation they work for.

    Sign-ins, lockouts and password changes concern every organisation whose data the operator can
    reach, and an event is scoped to exactly one organisation. Platform staff without a membership
    (and unknown usernames) get one event that no organisation sees.
    """
    organization_ids = list(user.memberships.values_list("organization_id", flat=True)) if user else []
    for organization_id in organization_ids or [None]:
        audit.record(actor, action, user, data, organization=organization_id)


def _lock_state(key_kind: str, key: str, now) -> dict:
    state = limits.state_get(key_kind, key)
    until = state.get("locked_until")
    if until and until > now:
        raise OperatorLocked(
            until=timezone.localtime(until).strftime("%Y-%m-%d %H:%M"),
            retry_after=math.ceil((until - now).total_seconds()),
        )
    return state


def _failure_count(key_kind: str, key: str, state: dict, threshold: int, now) -> dict | None:
    """One more failure for `key`; returns the new lock when this failure reaches the threshold."""
    state = {"failures": state.get("failures", 0) + 1, "rounds": state.get("rounds", 0)}
    lock = None
    if state["failures"] >= threshold:
        state["rounds"] += 1
        until = now + timedelta(minutes=settings.OPERATOR_LOGIN_LOCK_MINUTES * 2 ** (state["rounds"] - 1))
        state.update(failures=0, locked_until=until)
        lock = state
    limits.state_set(key_kind, key, state, timeout=7 * 86400)
    return lock


@transaction.atomic
def operator_authenticate(*, request, username: str, password: str) -> User | None:
    """Check a password with lockout per (user name, client address), the same for names that exist or not.

    Keying the lock by name and address means one attacker cannot lock an operator out of every other
    network, and a missing name locks exactly like a real one, so the answers never tell them apart. A
    looser cap per address stops spraying one password over many names. Each lock doubles the next one.
    Django's ModelBackend hashes the password for a missing user too, so the work is similar either way.
    """
    ip = client_ip(request) or "-"
    name = username.strip().lower()[:150]
    key = f"{name}|{ip}"
    now = timezone.now()
    try:
        state = _lock_state(LOGIN_FAILURES, key, now)
        ip_state = _lock_state(LOGIN_FAILURES_PER_ADDRESS, ip, now)
    except OperatorLocked:
        limits.refusal_note("operator_login_locked", key)  # a locked key writes no audit rows
        raise
    user = User.objects.filter(username=username).first()
    authenticated = authenticate(request, username=username, password=password)
    if authenticated is None:
        details = {"username": username[:150], "ip": ip}
        operator_event_record("anonymous", "operator.login_failed", user, details)
        threshold = settings.OPERATOR_LOGIN_MAX_FAILURES
        for kind, lock_key, limit in (
            (LOGIN_FAILURES, key, threshold),
            (LOGIN_FAILURES_PER_ADDRESS, ip, threshold * 10),
        ):
            lock = _failure_count(kind, lock_key, state if kind == LOGIN_FAILURES else ip_state, limit, now)
            if lock:
                scope = "name_and_address" if kind == LOGIN_FAILURES else "address"
                operator_event_record(
                    "anonymous",
                    "operator.locked",
                    user,
                    {**details, "scope": scope, "until": lock["locked_until"].isoformat()},
                )
        return None
    limits.state_clear(LOGIN_FAILURES, key)
    operator_event_record(authenticated, "operator.password_ok", authenticated, {"ip": ip})
    return authenticated


def totp_device_confirmed(user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


@transaction.atomic
def totp_enrolment_start(*, user: User) -> TOTPDevice:
    """The unconfirmed device shown as a QR code until the operator proves they scanned it."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="authenticator", confirmed=False)
    return device


@transaction.atomic
def totp_enrolment_confirm(*, user: User, device_id: int, token: str) -> list[str] | None:
    """Confirm the device when the code matches; returns the new backup codes (shown once)."""
    device = TOTPDevice.objects.select_for_update().get(pk=device_id, user=user, confirmed=False)
    if not device.verify_token(token):
        operator_event_record(user, "operator.otp_failed", user, {"device": "totp-enrolment"})
        return None
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    codes = backup_codes_regenerate(user=user)
    operator_event_record(user, "operator.totp_enrolled", user, {"device_id": device.pk})
    return codes


@transaction.atomic
def backup_codes_regenerate(*, user: User) -> list[str]:
    device, _ = StaticDevice.objects.get_or_create(user=user, name="backup", defaults={"confirmed": True})
    device.token_set.all().delete()
    codes = [StaticToken.random_token() for _ in range(BACKUP_CODE_COUNT)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=code) for code in codes])
    return codes


@transaction.atomic
def operator_otp_verify(*, user: User, token: str):
    """Match a TOTP or backup code against the operator's confirmed devices (throttled by django-otp)."""
    token = token.strip().replace(" ", "")
    for device in [
        *TOTPDevice.objects.filter(user=user, confirmed=True),
        *StaticDevice.objects.filter(user=user, confirmed=True),
    ]:
        if device.verify_token(token):
            operator_event_record(user, "operator.login", user, {"device": device.persistent_id})
            return device
    operator_event_record(user, "operator.otp_failed", user, {})
    return None


def operator_otp_locked_until(user: User):
    """When django-otp's back-off currently refuses codes, until when (else None)."""
    for device in TOTPDevice.objects.filter(user=user):
        allowed, info = device.verify_is_allowed()
        if not allowed and info and info.get("locked_until"):
            return info["locked_until"]
    return None


def outbox_message_add(*, channel: str, to: str, body: str, subject: str = "") -> OutboxMessage:
    return OutboxMessage.objects.create(channel=channel, to=to, subject=subject, body=body)


@transaction.atomic
def organization_create(
    *,
    actor,
    name: str,
    uscc: str,
    privacy_contact_name: str,
    privacy_contact_email: str,
    privacy_contact_phone: str,
    address: str,
) -> Organization:
    organization = Organization.objects.create(
        name=name,
        uscc=validate_uscc(uscc),
        privacy_contact_name=privacy_contact_name,
        privacy_contact_email=privacy_contact_email,
        privacy_contact_phone=normalize_phone(privacy_contact_phone),
        address=address,
    )
    audit.record(actor, "organization.create", organization, {"uscc": organization.uscc}, organization=organization)
    return organization


@transaction.atomic
def operator_create(*, actor, username: str, password: str, email: str = "") -> User:
    user = User(username=username, email=email)
    validate_password(password, user)
    user.set_password(password)
    user.save()
    audit.record(actor, "operator.create", user, {"username": username})
    return user


@transaction.atomic
def operator_set_password(*, actor, user: User, password: str) -> None:
    validate_password(password, user)
    user.set_password(password)
    user.save(update_fields=["password"])
    operator_event_record(actor, "operator.password_set", user, {})


@transaction.atomic
def membership_set(*, actor, user: User, organization: Organization, role: str) -> Membership:
    membership, created = Membership.objects.select_for_update().get_or_create(
        user=user, organization=organization, defaults={"role": role}
    )
    if not created and membership.role != role:
        old = membership.role
        membership.role = role
        membership.save(update_fields=["role"])
        audit.record(actor, "membership.role_change", membership, {"from": old, "to": role})
    elif created:
        audit.record(actor, "membership.create", membership, {"role": role, "organization": organization.pk})
    return membership


@transaction.atomic
def organization_update(*, actor, organization: Organization, **fields) -> Organization:
    if "uscc" in fields:
        fields["uscc"] = validate_uscc(fields["uscc"])
    if "privacy_contact_phone" in fields:
        fields["privacy_contact_phone"] = normalize_phone(fields["privacy_contact_phone"])
    organization = Organization.objects.select_for_update().get(pk=organization.pk)
    changed = {name: value for name, value in fields.items() if getattr(organization, name) != value}
    for name, value in changed.items():
        setattr(organization, name, value)
    if changed:
        organization.save(update_fields=list(changed))
        audit.record(
            actor, "organization.update", organization, {"organization": organization.pk, "fields": sorted(changed)}
        )
    return organization


@transaction.atomic
def membership_remove(*, actor, membership: Membership) -> None:
    audit.record(
        actor,
        "membership.remove",
        membership,
        {"organization": membership.organization_id, "user": membership.user_id, "role": membership.role},
    )
    membership.delete()
