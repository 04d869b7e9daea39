"""Expected failures of the identity app, each with a stable code and a message a person can act on."""

from django.utils.translation import gettext_lazy as _


class IdentityError(Exception):
    code = "identity_error"
    message = _("Something about your identity could not be processed.")

    def __init__(self, message=None, **params):
        self.params = params
        if message is not None:
            self.message = message
        super().__init__(str(self.message))

    def __str__(self):
        return str(self.message) % self.params if self.params else str(self.message)


class SendLimited(IdentityError):
    code = "sms_send_limited"


class CodeRejected(IdentityError):
    code = "sms_code_rejected"


class IdentityNotMatched(IdentityError):
    code = "identity_not_matched"
    message = _(
        "The name and ID number do not match the records of the verification service. "
        "Check both (the name exactly as on the ID card) and try again."
    )


class VerifierUnavailable(IdentityError):
    code = "verifier_unavailable"
    message = _("The identity verification service cannot be reached right now. Nothing was saved; try again shortly.")


class IdentityConflict(IdentityError):
    code = "identity_conflict"
    # Said only after the real-name provider matched this name to this ID number (not an oracle).
    message = _(
        "Your name and ID number match, but this ID number is already verified with another mobile number. "
        "Sign in with that number, or contact the privacy contact of the organisation that asked you."
    )


class IdentityLimited(IdentityError):
    code = "identity_limited"
    message = _("Too many identity checks today. Nothing was checked; try again tomorrow.")


class GuardianInvalid(IdentityError):
    code = "guardian_invalid"
