from django_otp.admin import OTPAdminSite


class PlatformAdminSite(OTPAdminSite):
    site_header = "Likeness consent — platform staff"


admin_site = PlatformAdminSite(name="otpadmin")
