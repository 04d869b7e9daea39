from functools import wraps

from django.shortcuts import redirect
from django.utils.http import urlencode

from identity.models import Person
from identity.services import CHILD_AGE, today


def office_required(view):
    """Back-office pages need a password sign-in AND a verified OTP device; nothing is reachable before.

    People (who sign in by SMS) are not operators: without a membership the office is closed to them.
    """

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        user = request.user
        if not user.is_authenticated or not (user.is_staff or user.memberships.exists()):
            return redirect(f"/office/login/?{urlencode({'next': request.get_full_path()})}")
        if not user.is_verified():
            return redirect("office:otp")
        return view(request, *args, **kwargs)

    return wrapper


def signed_in_person(request) -> Person | None:
    """The person signed in on this session with an SMS code, or None (pages that also greet visitors)."""
    user = request.user
    if not user.is_authenticated or not user.is_verified():
        return None
    return Person.objects.select_related("guardian").filter(user=user).first()


def person_required(view):
    """Portal pages: signed in with an SMS code on this session. Sets request.person."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        person = signed_in_person(request)
        if person is None:
            return redirect(f"/signin/?{urlencode({'next': request.get_full_path()})}")
        request.person = person
        return view(request, *args, **kwargs)

    return wrapper


def identity_step(request):
    """Where the person must go before deciding anything: identity check, then guardian for a child; or None."""
    person = request.person
    if not person.is_verified:
        return redirect(f"/identity/?{urlencode({'next': request.get_full_path()})}")
    if person.age_on(today()) < CHILD_AGE and not hasattr(person, "guardian"):
        return redirect(f"/identity/guardian/?{urlencode({'next': request.get_full_path()})}")
    return None


def identity_required(view):
    """Decisions need a verified real name, and for a child under 14 a verified guardian (PIPL Art. 31)."""

    @person_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        return identity_step(request) or view(request, *args, **kwargs)

    return wrapper
