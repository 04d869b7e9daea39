"""Reads of memberships, invitations and an operator's own sign-ins, scoped to one organisation."""

from django.utils import timezone

from audit.models import AuditEvent
from identity.models import Invitation, Membership, Organization, User

SIGN_IN_ACTIONS = ("operator.login", "operator.login_failed", "operator.locked")


def members_for_organization(*, organization: Organization):
    return Membership.objects.filter(organization=organization).select_related("user").order_by("user__username")


def invitations_open_for_organization(*, organization: Organization):
    return Invitation.objects.filter(
        organization=organization, accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now()
    ).select_related("invited_by")


def sign_ins_for_operator(*, user: User, organization: Organization, limit: int = 20):
    """The operator's own recent sign-ins from the audit chain (one copy of each: this organisation's)."""
    return AuditEvent.objects.filter(
        organization_id=organization.pk,
        action__in=SIGN_IN_ACTIONS,
        target_type=User._meta.label_lower,
        target_id=str(user.pk),
    ).order_by("-seq")[:limit]
