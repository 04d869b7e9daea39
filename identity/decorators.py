from functools import wraps

from django.shortcuts import redirect


def office_required(view):
    """Back-office pages need a password sign-in AND a verified OTP device; nothing is reachable before."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        user = request.user
        if not user.is_authenticated:
            return redirect(f"/office/login/?next={request.path}")
        if not user.is_verified():
            return redirect("office:otp")
        return view(request, *args, **kwargs)

    return wrapper
