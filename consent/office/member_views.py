"""Office pages owners use to manage their team and profile, and every operator's own account page."""

import segno
from django.contrib import messages
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from consent.office.access import office_view, render_office, require_owner
from consent.office.member_forms import (
    InviteForm,
    NewDeviceForm,
    OrganizationForm,
    OtpConfirmForm,
    PasswordChangeForm,
    RoleForm,
)
from errors.surfaces import errors_as_messages, errors_on_form
from identity import selectors as identity_selectors
from identity import services as identity_services

PROFILE_FIELDS = (
    "name",
    "uscc",
    "address",
    "privacy_contact_name",
    "privacy_contact_email",
    "privacy_contact_phone",
)


def _members_page(request, membership, *, form=None, invitation_link=None, status=200):
    organization = membership.organization
    context = {
        "members": identity_selectors.members_for_organization(organization=organization),
        "invitations": identity_selectors.invitations_open_for_organization(organization=organization),
        "form": form or InviteForm(),
        "role_choices": RoleForm.base_fields["role"].choices,
        "invitation_link": invitation_link,
    }
    return render_office(request, "office/members.html", membership, context, status=status)


@never_cache
@office_view()
def member_list(request, membership):
    return _members_page(request, membership)


@never_cache
@require_POST
@office_view(owner=True)
def member_invite(request, membership):
    form = InviteForm(request.POST)
    if not form.is_valid():
        return _members_page(request, membership, form=form, status=400)
    with errors_on_form(form):
        _invitation, token = identity_services.invitation_create(
            actor=request.user,
            organization=membership.organization,
            role=form.cleaned_data["role"],
            email=form.cleaned_data["email"],
            phone=form.cleaned_data["phone"],
        )
        messages.success(request, _("Invitation sent. The link works once, for 7 days."))
        link = request.build_absolute_uri(f"/office/invitation/{token}/")
        return _members_page(request, membership, invitation_link=link)
    return _members_page(request, membership, form=form, status=400)


@require_POST
@office_view(owner=True)
def member_role(request, membership, pk):
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose one of the roles."))
        return redirect("consent_office:members")
    with errors_as_messages(request):
        changed = identity_services.member_role_set(
            actor=request.user, organization=membership.organization, membership_id=pk, role=form.cleaned_data["role"]
        )
        messages.success(
            request,
            _("%(user)s is now %(role)s.") % {"user": changed.user.username, "role": changed.get_role_display()},
        )
    return redirect("consent_office:members")


@require_POST
@office_view(owner=True)
def member_remove(request, membership, pk):
    with errors_as_messages(request):
        identity_services.member_remove(actor=request.user, organization=membership.organization, membership_id=pk)
        messages.success(request, _("Member removed; they can no longer reach this organisation."))
    return redirect("consent_office:members")


@require_POST
@office_view(owner=True)
def invitation_revoke(request, membership, pk):
    identity_services.invitation_revoke(actor=request.user, organization=membership.organization, invitation_id=pk)
    messages.success(request, _("Invitation withdrawn; its link no longer works."))
    return redirect("consent_office:members")


@office_view()
def organization_profile(request, membership):
    organization = membership.organization
    initial = {name: getattr(organization, name) for name in PROFILE_FIELDS}
    if request.method != "POST":
        form = OrganizationForm(initial=initial, organization=organization)
        return render_office(request, "office/organization.html", membership, {"form": form})
    require_owner(membership)
    form = OrganizationForm(request.POST, organization=organization)
    if form.is_valid():
        with errors_on_form(form):
            identity_services.organization_update(actor=request.user, organization=organization, **form.cleaned_data)
            messages.success(request, _("Organisation profile saved. Requests already sent keep their terms."))
            return redirect("consent_office:organization")
    return render_office(request, "office/organization.html", membership, {"form": form}, status=400)


def _account_page(request, membership, *, status=200, **forms):
    context = {
        "password_form": forms.get("password_form") or PasswordChangeForm(),
        "codes_form": forms.get("codes_form") or OtpConfirmForm(prefix="codes"),
        "totp_form": forms.get("totp_form") or OtpConfirmForm(prefix="totp"),
        "sign_ins": identity_selectors.sign_ins_for_operator(user=request.user, organization=membership.organization),
        "backup_codes_left": identity_services.backup_codes_left(request.user),
        **{name: value for name, value in forms.items() if not name.endswith("_form")},
    }
    return render_office(request, "office/account.html", membership, context, status=status)


@never_cache
@office_view()
def account(request, membership):
    return _account_page(request, membership)


@never_cache
@require_POST
@office_view()
def account_password(request, membership):
    form = PasswordChangeForm(request.POST)
    if form.is_valid():
        with errors_on_form(form):
            identity_services.account_password_change(
                user=request.user, otp=form.cleaned_data["otp"], password=form.cleaned_data["password"]
            )
            messages.success(request, _("Password changed."))
            return redirect("consent_office:account")
    return _account_page(request, membership, password_form=form, status=400)


@never_cache
@require_POST
@office_view()
def account_backup_codes(request, membership):
    form = OtpConfirmForm(request.POST, prefix="codes")
    if form.is_valid():
        with errors_on_form(form):
            codes = identity_services.account_backup_codes_regenerate(user=request.user, otp=form.cleaned_data["otp"])
            return _account_page(request, membership, codes=codes)
    return _account_page(request, membership, codes_form=form, status=400)


def _reenrol_page(request, membership, device, form=None, status=200):
    context = {
        "qr": segno.make(device.config_url, error="m").svg_data_uri(scale=5),
        "secret": device.config_url,
        "form": form or NewDeviceForm(initial={"device": device.pk}),
    }
    return render_office(request, "office/account_totp.html", membership, context, status=status)


@never_cache
@require_POST
@office_view()
def account_totp(request, membership):
    """Step 1 proves the current device; step 2 (same URL, with `device`) confirms the new one."""
    if "device" in request.POST:
        form = NewDeviceForm(request.POST)
        if not form.is_valid():
            return redirect("consent_office:account")
        device = request.user.totpdevice_set.filter(pk=form.cleaned_data["device"], confirmed=False).first()
        if device is None:
            return redirect("consent_office:account")
        if identity_services.account_totp_reenrol_confirm(
            user=request.user, device_id=device.pk, token=form.cleaned_data["token"]
        ):
            messages.success(request, _("New authenticator confirmed; the old one no longer works."))
            return redirect("consent_office:account")
        form.add_error("token", _("That code does not match. Check the clock of your phone."))
        return _reenrol_page(request, membership, device, form, status=400)
    form = OtpConfirmForm(request.POST, prefix="totp")
    if form.is_valid():
        with errors_on_form(form):
            device = identity_services.account_totp_reenrol_start(user=request.user, otp=form.cleaned_data["otp"])
            return _reenrol_page(request, membership, device)
    return _account_page(request, membership, totp_form=form, status=400)
