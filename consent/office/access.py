"""Which organisation an office page is about, and what the operator may do there."""

from functools import wraps

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.http import Http404
from django.shortcuts import render

from consent.selectors import membership_for_operator
from identity.decorators import office_required
from identity.models import Membership

SESSION_KEY = "office_organization"
WRITE_ROLES = frozenset({Membership.Role.OWNER, Membership.Role.OPERATOR})


def office_membership(request, *, write: bool = False, owner: bool = False) -> Membership:
    """The membership a page acts under: `org` from the form or query string, else the remembered one.

    An organisation the operator does not belong to is a 404; a viewer asking to write gets a 403.
    """
    raw = request.POST.get("org") or request.GET.get("org")
    membership = None
    if raw:
        try:
            organization_id = int(raw)
        except ValueError:
            raise Http404 from None
        membership = membership_for_operator(user=request.user, organization_id=organization_id)
        request.session[SESSION_KEY] = membership.organization_id
    elif request.session.get(SESSION_KEY):
        try:
            membership = membership_for_operator(user=request.user, organization_id=request.session[SESSION_KEY])
        except Http404:  # removed from that organisation since: fall back to another one
            membership = None
    if membership is None:
        membership = membership_for_operator(user=request.user)
    if write and membership.role not in WRITE_ROLES:
        raise PermissionDenied
    if owner:
        require_owner(membership)
    return membership


def office_view(*, write: bool = False, owner: bool = False):
    """Office page: signed in with password + TOTP, and passed the membership it acts under.

    A service's look-up is scoped to the membership's organisation, so an object it cannot find (another
    organisation's, or none) is a 404 here, as in the API, and the view need not read it first.
    """

    def decorate(view):
        @office_required
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            membership = office_membership(request, write=write, owner=owner)
            try:
                return view(request, membership, *args, **kwargs)
            except ObjectDoesNotExist:
                raise Http404 from None

        return wrapper

    return decorate


def render_office(request, template: str, membership: Membership, context: dict | None = None, status: int = 200):
    base = {
        "membership": membership,
        "organization": membership.organization,
        "can_write": membership.role in WRITE_ROLES,
        "is_owner": membership.role == Membership.Role.OWNER,
        "memberships": request.user.memberships.select_related("organization").order_by("organization__name"),
    }
    return render(request, template, {**base, **(context or {})}, status=status)


def require_write(membership: Membership) -> None:
    """Viewers read; only owners and operators change anything."""
    if membership.role not in WRITE_ROLES:
        raise PermissionDenied


def require_owner(membership: Membership) -> None:
    """Members, roles and the organisation's profile are the owners' to change."""
    if membership.role != Membership.Role.OWNER:
        raise PermissionDenied
