from datetime import timedelta

from django.contrib.auth import authenticate
from django.contrib.auth.password_validation import validate_password
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

import audit
from identity.models import Membership, Organization, OutboxMessage, User

MAX_FAILED_LOGINS = 5
BACKUP_CODE_COUNT = 10


def operator_event_record(actor, action: str, user: User | None, data: dict) -> None:
    """Record an event about an operator once for each organisation they work for.

    Sign-ins, lockouts and password changes concern every organisation whose data the operator can
    reach, and an event is scoped to exactly one organisation. Platform staff without a membership
    (and unknown usernames) get one event that no organisation sees.
    """
    organization_ids = list(user.memberships.values_list("organization_id", flat=True)) if user else []
    for organization_id in organization_ids or [None]:
        audit.record(actor, action, user, data, organization=organization_id)


class OperatorLocked(Exception):
    code = "operator_locked"

    def __init__(self, until):
        super().__init__(until)
        self.until = until


@transaction.atomic
def operator_authenticate(*, request, username: str, password: str) -> User | None:
    """Check a password with lockout: 5 failures lock the account, each further lock lasts longer."""
    user = User.objects.select_for_update().filter(username=username).first()
    now = timezone.now()
    if user and user.locked_until and user.locked_until > now:
        raise OperatorLocked(user.locked_until)
    authenticated = authenticate(request, username=username, password=password)
    if authenticated is None:
        if user:
            user.failed_logins += 1
            fields = ["failed_logins"]
            if user.failed_logins % MAX_FAILED_LOGINS == 0:
                rounds = user.failed_logins // MAX_FAILED_LOGINS
                user.locked_until = now + timedelta(minutes=15 * 2 ** (rounds - 1))
                fields.append("locked_until")
                operator_event_record(user, "operator.locked", user, {"until": user.locked_until.isoformat()})
            user.save(update_fields=fields)
        operator_event_record("anonymous", "operator.login_failed", user, {"username": username[:150]})
        return None
    if user.failed_logins or user.locked_until:
        user.failed_logins, user.locked_until = 0, None
        user.save(update_fields=["failed_logins", "locked_until"])
    operator_event_record(user, "operator.password_ok", user, {})
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
    from identity.validators import normalize_phone, validate_uscc

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
    from identity.validators import normalize_phone, validate_uscc

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
