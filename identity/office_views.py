"""Operator sign-in: password, then TOTP (enrolment forced at first sign-in)."""

import math

import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST
from django_otp import login as otp_login

from errors.surfaces import errors_on_form
from identity import services
from identity.errors import InvitationInvalid
from identity.forms import AcceptForm, OperatorLoginForm, OtpForm


def _next_url(request) -> str:
    target = request.session.get("office_next", "")
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return settings.OFFICE_HOME_URL


def _otp_error(user, message: str) -> str:
    locked_until = services.operator_otp_locked_until(user)
    if locked_until:
        seconds = max(1, math.ceil((locked_until - timezone.now()).total_seconds()))
        return (
            message
            + " "
            + _("After several wrong codes, wait %(seconds)s seconds before the next try.") % {"seconds": seconds}
        )
    return message + " " + _("Wait for the next code and try again.")


def login_view(request):
    form = OperatorLoginForm(request.POST if request.method == "POST" else None)
    if request.method == "GET" and request.GET.get("next"):
        request.session["office_next"] = request.GET["next"]
    if request.method == "POST" and form.is_valid():
        with errors_on_form(form):  # locked out: the error says until when
            user = services.operator_authenticate(
                request=request, username=form.cleaned_data["username"], password=form.cleaned_data["password"]
            )
            if user is None:
                form.add_error(None, _("Username or password is wrong."))
            else:
                target = request.session.get("office_next", "")
                login(request, user)  # rotates the session key
                request.session["office_next"] = target
                return redirect("office:otp")
    return render(request, "office/login.html", {"form": form})


def otp_view(request):
    if not request.user.is_authenticated:
        return redirect("office:login")
    if request.user.is_verified():
        return redirect(_next_url(request))
    if services.totp_device_confirmed(request.user) is None:
        return redirect("office:enrol")
    form = OtpForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        device = services.operator_otp_verify(user=request.user, token=form.cleaned_data["token"])
        if device is not None:
            otp_login(request, device)
            return redirect(_next_url(request))
        form.add_error("token", _otp_error(request.user, _("That code is wrong or expired.")))
    return render(request, "office/otp.html", {"form": form})


def enrol_view(request):
    if not request.user.is_authenticated:
        return redirect("office:login")
    if services.totp_device_confirmed(request.user) is not None:
        return redirect("office:otp")
    device = services.totp_enrolment_start(user=request.user)
    form = OtpForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        codes = services.totp_enrolment_confirm(
            user=request.user, device_id=device.pk, token=form.cleaned_data["token"]
        )
        if codes is not None:
            device.refresh_from_db()
            otp_login(request, device)
            return render(request, "office/backup_codes.html", {"codes": codes, "next": _next_url(request)})
        form.add_error("token", _otp_error(request.user, _("That code does not match. Check the clock of your phone.")))
    qr = segno.make(device.config_url, error="m").svg_data_uri(scale=5)
    return render(request, "office/enrol.html", {"form": form, "qr": qr, "secret": device.config_url})


@require_POST
def logout_view(request):
    logout(request)
    messages.info(request, _("You are signed out."))
    return redirect("office:login")


@never_cache
def invitation_view(request, token):
    """Accept an owner's invitation: choose a username and password, then enrol TOTP at once."""
    try:
        invitation = services.invitation_get_for_token(token=token)
    except InvitationInvalid as exc:
        return render(request, "office/invitation.html", {"invalid": str(exc)}, status=404)
    form = AcceptForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        with errors_on_form(form):
            user = services.invitation_accept(
                token=token, username=form.cleaned_data["username"], password=form.cleaned_data["password"]
            )
            logout(request)  # whoever was signed in on this browser before
            login(request, user)
            return redirect("office:enrol")
    return render(request, "office/invitation.html", {"form": form, "invitation": invitation})
