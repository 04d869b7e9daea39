"""Members of an organisation as its owners manage them in the office, and an operator's own account.

Everything here never leaves an organisation without an owner. The `member_*` services are done by an
owner of the organisation (checked in the service, not only in the view); the `staff_membership_*` ones
by platform staff in the admin, for any organisation.
"""

import hashlib
import logging
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

import audit
from identity.errors import (
    InvitationInvalid,
    LastOwner,
    MemberExists,
    OtpWrong,
    OwnerRequired,
    PasswordRejected,
    UsernameTaken,
)
from identity.models import Invitation, Membership, Organization, User
from identity.services.operators import (
    backup_codes_regenerate,
    membership_remove,
    membership_set,
    operator_event_record,
)
from identity.sms import sms_send
from identity.validators import normalize_phone

__all__ = [
    "INVITATION_DAYS",
    "account_backup_codes_regenerate",
    "account_password_change",
    "account_totp_reenrol_confirm",
    "account_totp_reenrol_start",
    "backup_codes_left",
    "invitation_accept",
    "invitation_create",
    "invitation_get_for_token",
    "invitation_revoke",
    "member_remove",
    "member_role_set",
    "membership_is_last_owner",
    "staff_membership_remove",
    "staff_membership_role_set",
]

INVITATION_DAYS = 7
logger = logging.getLogger(__name__)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _owner_membership(*, actor: User, organization: Organization) -> Membership:
    membership = Membership.objects.filter(user=actor, organization=organization).first()
    if membership is None or membership.role != Membership.Role.OWNER:
        raise OwnerRequired
    return membership


def _deliver_invitation(*, email: str, phone: str, organization_name: str, link: str) -> None:
    """After commit: a failed send leaves the invitation valid, and the owner has the link on screen."""
    text = _("You are invited to the back-office of %(org)s. Accept within %(days)s days: %(link)s") % {
        "org": organization_name,
        "days": INVITATION_DAYS,
        "link": link,
    }
    try:
        if email:
            send_mail(_("Invitation to %(org)s") % {"org": organization_name}, text, None, [email])
        if phone:
            sms_send(phone=phone, text=text)
    except Exception:  # the gateway is down: the owner passes the link on by hand
        logger.warning("could not deliver an invitation", exc_info=True)


@transaction.atomic
def invitation_create(
    *, actor: User, organization: Organization, role: str, email: str = "", phone: str = "", now=None
) -> tuple[Invitation, str]:
    """Invite someone by e-mail or phone; returns the invitation and its link token (shown once)."""
    _owner_membership(actor=actor, organization=organization)
    phone = normalize_phone(phone) if phone else ""
    if email and organization.memberships.filter(user__email__iexact=email).exists():
        raise MemberExists
    token = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        organization=organization,
        role=Membership.Role(role),
        email=email,
        phone=phone,
        token_hash=_token_hash(token),
        invited_by=actor,
        expires_at=(now or timezone.now()) + timedelta(days=INVITATION_DAYS),
    )
    audit.record(actor, "membership.invite", invitation, {"role": role, "by": "email" if email else "phone"})
    link = f"{settings.SITE_URL}/office/invitation/{token}/"
    transaction.on_commit(
        lambda: _deliver_invitation(email=email, phone=phone, organization_name=organization.name, link=link)
    )
    return invitation, token


def invitation_get_for_token(*, token: str, now=None, lock: bool = False) -> Invitation:
    """The open invitation behind a link; used, expired or unknown links are all the same refusal."""
    invitations = Invitation.objects.select_related("organization")
    if lock:
        invitations = invitations.select_for_update()
    invitation = invitations.filter(
        token_hash=_token_hash(token), accepted_at__isnull=True, revoked_at__isnull=True
    ).first()
    if invitation is None or invitation.expires_at <= (now or timezone.now()):
        raise InvitationInvalid
    return invitation


@transaction.atomic
def invitation_accept(*, token: str, username: str, password: str, now=None) -> User:
    """Create the invited operator; the office then forces TOTP enrolment at their first sign-in."""
    invitation = invitation_get_for_token(token=token, now=now, lock=True)
    if User.objects.filter(username__iexact=username).exists():
        raise UsernameTaken(fields={"username": [UsernameTaken.message]})
    user = User(username=username, email=invitation.email)
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise PasswordRejected(fields={"password": exc.messages}) from None
    user.set_password(password)
    try:
        # A concurrent acceptance may take the name between the check above and this insert.
        with transaction.atomic():
            user.save()
    except IntegrityError:
        raise UsernameTaken(fields={"username": [UsernameTaken.message]}) from None
    invitation.accepted_at = now or timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    audit.record(user, "membership.invitation_accept", invitation, {"username": username})
    membership_set(actor=user, user=user, organization=invitation.organization, role=invitation.role)
    return user


@transaction.atomic
def invitation_revoke(*, actor: User, organization: Organization, invitation_id: int) -> Invitation:
    """Withdraw an open invitation: its link stops working at once."""
    _owner_membership(actor=actor, organization=organization)
    invitation = Invitation.objects.select_for_update().get(
        pk=invitation_id, organization=organization, accepted_at__isnull=True
    )
    if invitation.revoked_at is None:
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["revoked_at"])
        audit.record(actor, "membership.invitation_revoke", invitation, {"role": invitation.role})
    return invitation


def _owners_locked(organization_id: int) -> list[int]:
    """Lock every owner row, so two owners demoting each other at once cannot both succeed."""
    return list(
        Membership.objects.select_for_update()
        .filter(organization_id=organization_id, role=Membership.Role.OWNER)
        .order_by("pk")  # one lock order for every caller: no deadlock between two owners
        .values_list("pk", flat=True)
    )


@transaction.atomic
def member_role_set(*, actor: User, organization: Organization, membership_id: int, role: str) -> Membership:
    _owner_membership(actor=actor, organization=organization)
    membership = Membership.objects.get(pk=membership_id, organization=organization)
    return staff_membership_role_set(actor=actor, membership=membership, role=role)


@transaction.atomic
def member_remove(*, actor: User, organization: Organization, membership_id: int) -> None:
    _owner_membership(actor=actor, organization=organization)
    membership = Membership.objects.get(pk=membership_id, organization=organization)
    staff_membership_remove(actor=actor, membership=membership)


def membership_is_last_owner(membership: Membership) -> bool:
    """Whether this is the only owner of its organisation (a hint for forms; the services decide under lock)."""
    others = Membership.objects.filter(organization_id=membership.organization_id, role=Membership.Role.OWNER)
    return membership.role == Membership.Role.OWNER and not others.exclude(pk=membership.pk).exists()


@transaction.atomic
def staff_membership_role_set(*, actor, membership: Membership, role: str) -> Membership:
    """Change a member's role, unless that takes the organisation's last owner away."""
    owners = _owners_locked(membership.organization_id)
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    if membership.pk in owners and role != Membership.Role.OWNER and len(owners) == 1:
        raise LastOwner
    return membership_set(
        actor=actor, user=membership.user, organization=membership.organization, role=Membership.Role(role)
    )


@transaction.atomic
def staff_membership_remove(*, actor, membership: Membership) -> None:
    """Remove a member, unless it is the organisation's last owner."""
    owners = _owners_locked(membership.organization_id)
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    if membership.pk in owners and len(owners) == 1:
        raise LastOwner
    membership_remove(actor=actor, membership=membership)


def _check_current_otp(user: User, token: str) -> None:
    """Account changes need a code from the device the operator has now (a stolen session is not enough).

    Checked in its own transaction before the change: a wrong code must still count towards django-otp's
    throttle and leave its audit row, which a rollback of the change would undo.
    """
    token = (token or "").strip().replace(" ", "")
    for device in TOTPDevice.objects.filter(user=user, confirmed=True):
        if device.verify_token(token):
            return
    operator_event_record(user, "operator.otp_failed", user, {"purpose": "account"})
    raise OtpWrong(fields={"otp": [OtpWrong.message]})


def account_password_change(*, user: User, otp: str, password: str) -> None:
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise PasswordRejected(fields={"password": exc.messages}) from None
    _check_current_otp(user, otp)
    with transaction.atomic():
        user.set_password(password)
        user.save(update_fields=["password"])
        operator_event_record(user, "operator.password_set", user, {"by": "self"})


def account_backup_codes_regenerate(*, user: User, otp: str) -> list[str]:
    _check_current_otp(user, otp)
    with transaction.atomic():
        codes = backup_codes_regenerate(user=user)
        operator_event_record(user, "operator.backup_codes_regenerate", user, {})
    return codes


def account_totp_reenrol_start(*, user: User, otp: str) -> TOTPDevice:
    """A new, unconfirmed authenticator; the old one keeps working until the new one is confirmed."""
    _check_current_otp(user, otp)
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        return TOTPDevice.objects.create(user=user, name="authenticator", confirmed=False)


@transaction.atomic
def account_totp_reenrol_confirm(*, user: User, device_id: int, token: str) -> bool:
    device = TOTPDevice.objects.select_for_update().get(pk=device_id, user=user, confirmed=False)
    if not device.verify_token(token):
        operator_event_record(user, "operator.otp_failed", user, {"device": "totp-reenrolment"})
        return False
    TOTPDevice.objects.filter(user=user, confirmed=True).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    operator_event_record(user, "operator.totp_reenrolled", user, {"device_id": device.pk})
    return True


def backup_codes_left(user: User) -> int:
    device = StaticDevice.objects.filter(user=user, name="backup").first()
    return device.token_set.count() if device else 0
