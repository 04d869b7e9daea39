"""An operator who forgot their password sets a new one through a link sent to their e-mail address.

Django's own reset views and token generator (the token is bound to the password hash and the last
sign-in, so a link works once and expires after `PASSWORD_RESET_TIMEOUT`); around them: only operators
(never a person's portal account), no answer that tells whether an address is known, a limit of links per
address and per client address, and audit events for the request and the change. The TOTP code is still
asked at the next sign-in: a mailbox alone does not open the office.
"""

import logging

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import PasswordResetForm, SetPasswordForm
from django.db import transaction
from django.urls import reverse_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from identity import limits
from identity.models import User
from identity.net import client_ip
from identity.services import operator_event_record

logger = logging.getLogger(__name__)

LINKS_PER_ADDRESS_HOUR = 3
REQUESTS_PER_CLIENT_HOUR = 10


class OperatorPasswordResetForm(PasswordResetForm):
    email = PasswordResetForm.base_fields["email"]

    def get_users(self, email):
        """Active operators with this address (a portal person's account never gets a link)."""
        operators = User.objects.filter(email__iexact=email, is_active=True, person__isnull=True)
        return (user for user in operators if user.has_usable_password())

    def send_mail(self, subject_template_name, email_template_name, context, from_email, to_email, **kwargs):
        user = context["user"]
        if limits.refusal_note("password_reset_address", to_email.lower()) > LINKS_PER_ADDRESS_HOUR:
            logger.warning("password reset link not sent: the hourly limit for this address is reached")
            return  # the page says the same as when a link went out: nothing to learn from it
        operator_event_record(user, "operator.password_reset_request", user, {})
        super().send_mail(subject_template_name, email_template_name, context, from_email, to_email, **kwargs)


class PasswordResetView(auth_views.PasswordResetView):
    template_name = "office/password_reset.html"
    email_template_name = "office/password_reset_email.txt"
    subject_template_name = "office/password_reset_subject.txt"
    form_class = OperatorPasswordResetForm
    success_url = reverse_lazy("office:password-reset-sent")

    @property
    def extra_email_context(self):
        return {"site_url": settings.SITE_URL}  # the link names our site, never a Host header sent to us

    def form_valid(self, form):
        if limits.refusal_note("password_reset_client", client_ip(self.request) or "unknown") > (
            REQUESTS_PER_CLIENT_HOUR
        ):
            form.add_error(None, _("Too many reset requests from your network. Try again in an hour."))
            return self.render_to_response(self.get_context_data(form=form), status=429)
        return super().form_valid(form)


class PasswordResetSentView(auth_views.PasswordResetDoneView):
    template_name = "office/password_reset_sent.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "office/password_reset_confirm.html"
    form_class = SetPasswordForm
    success_url = reverse_lazy("office:login")
    post_reset_login = False
    title = gettext_lazy("Set a new password")

    def get_user(self, uidb64):
        user = super().get_user(uidb64)
        return user if user is not None and not hasattr(user, "person") else None

    def form_valid(self, form):
        with transaction.atomic():  # the new password and its audit event commit together
            response = super().form_valid(form)
            operator_event_record(self.user, "operator.password_set", self.user, {"via": "reset"})
        messages.success(
            self.request, _("Your password was changed. Sign in with it and a code from your authenticator app.")
        )
        return response
