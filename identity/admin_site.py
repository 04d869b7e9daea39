from urllib.parse import urlencode

from django.contrib.auth import REDIRECT_FIELD_NAME
from django.shortcuts import redirect
from django.urls import reverse
from django_otp.admin import OTPAdminSite


class PlatformAdminSite(OTPAdminSite):
    site_header = "Likeness consent — platform staff"

    def login(self, request, extra_context=None):
        """Staff sign in through the office sign-in, so /admin/login/ has the same lockout and audit trail.

        OTPAdminSite still refuses every admin page to a session without a verified second factor.
        """
        target = request.GET.get(REDIRECT_FIELD_NAME) or reverse("otpadmin:index")
        return redirect(f"{reverse('office:login')}?{urlencode({'next': target})}")


admin_site = PlatformAdminSite(name="otpadmin")
