"""People's sign-in: phone → SMS code → real-name check (→ guardian for a child under 14)."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from errors.surfaces import errors_on_form, form_error_add
from identity import services
from identity.decorators import person_required
from identity.errors import IdentityError
from identity.forms import CodeForm, GuardianForm, IdentityForm, PhoneForm
from identity.models import Person
from identity.net import client_ip


def _remember_next(request):
    target = request.GET.get("next") or request.POST.get("next")
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        request.session["portal_next"] = target


def _next(request) -> str:
    return request.session.get("portal_next") or settings.PORTAL_HOME_URL


def signin_start(request, *, phone: str, next_url: str) -> IdentityError | None:
    """Send a sign-in code to a phone the caller knows (e.g. the one a link was sent to); None when sent.

    For pages outside identity that pre-fill the number: the person then continues at `signin:code`,
    and after it at `next_url` (a path on this site).
    """
    if url_has_allowed_host_and_scheme(next_url, {request.get_host()}, request.is_secure()):
        request.session["portal_next"] = next_url
    try:
        services.signin_code_send(phone=phone, ip=client_ip(request))
    except IdentityError as exc:
        if request.session.get("signin_phone") != phone:
            return exc
        messages.error(request, str(exc))  # a code already sent to this phone still works
    request.session["signin_phone"] = phone
    return None


def signin(request):
    _remember_next(request)
    form = PhoneForm(
        request.POST if request.method == "POST" else None, initial={"phone": request.session.get("signin_phone", "")}
    )
    if request.method == "POST" and form.is_valid():
        phone = form.cleaned_data["phone"]
        try:
            services.signin_code_send(phone=phone, ip=client_ip(request))
        except IdentityError as exc:
            if request.session.get("signin_phone") != phone:
                form_error_add(form, exc, field="phone")
                return render(request, "portal/signin.html", {"form": form})
            messages.error(request, str(exc))  # a code already sent to this phone still works
        request.session["signin_phone"] = phone
        return redirect("signin:code")
    return render(request, "portal/signin.html", {"form": form})


def signin_code(request):
    phone = request.session.get("signin_phone")
    if not phone:
        return redirect("signin:phone")
    form = CodeForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        person = Person.objects.get(phone=phone)
        with errors_on_form(form, field="code"):
            device = services.sms_code_verify(person=person, code=form.cleaned_data["code"])
            target = _next(request)
            services.person_signin(request=request, person=person, device=device)
            request.session["signin_phone"] = phone
            return redirect(target)
    masked = phone[:-8] + "****" + phone[-4:]
    person = Person.objects.filter(phone=phone).first()
    wait = services.sms_code_wait_seconds(person=person) if person else 0
    return render(
        request, "portal/signin_code.html", {"form": form, "phone": phone, "masked_phone": masked, "wait": wait}
    )


@require_POST
def signout(request):
    logout(request)
    messages.info(request, _("You are signed out."))
    return redirect("signin:phone")


@person_required
def identity(request):
    _remember_next(request)
    person = request.person
    form = IdentityForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        with errors_on_form(form):
            person = services.person_identity_verify(
                person=person,
                legal_name=form.cleaned_data["legal_name"],
                id_number=form.cleaned_data["id_number"],
                ip=client_ip(request),
            )
            if person.age_on(services.today()) < services.CHILD_AGE:
                return redirect("signin:guardian")
            messages.success(request, _("Your identity is verified."))
            return redirect(_next(request))
    return render(request, "portal/identity.html", {"form": form, "person": person})


@person_required
def guardian(request):
    person = request.person
    if not person.is_verified:
        return redirect("signin:identity")
    if person.age_on(services.today()) >= services.CHILD_AGE:
        return redirect(_next(request))
    form = GuardianForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        with errors_on_form(form):
            services.guardian_verify(
                child=person,
                legal_name=form.cleaned_data["legal_name"],
                id_number=form.cleaned_data["id_number"],
                relationship=form.cleaned_data["relationship"],
                ip=client_ip(request),
            )
            messages.success(request, _("Guardian verified. You decide for the child from now on."))
            return redirect(_next(request))
    return render(request, "portal/guardian.html", {"form": form, "person": person})
