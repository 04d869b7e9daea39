"""Expected failures of the identity app, each with a stable code and a message a person can act on."""

from django.utils.translation import gettext_lazy as _

from errors import ApplicationError


class IdentityError(ApplicationError):
    code = "identity_error"
    message = _("Something about your identity could not be processed.")


class SendLimited(IdentityError):
    code = "sms_send_limited"
    status = 429


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
    status = 503
    message = _("The identity verification service cannot be reached right now. Nothing was saved; try again shortly.")


class IdentityConflict(IdentityError):
    code = "identity_conflict"
    status = 409
    # Said only after the real-name provider matched this name to this ID number (not an oracle).
    message = _(
        "Your name and ID number match, but this ID number is already verified with another mobile number. "
        "Sign in with that number, or contact the privacy contact of the organisation that asked you."
    )


class IdentityLimited(IdentityError):
    code = "identity_limited"
    status = 429
    message = _("Too many identity checks today. Nothing was checked; try again tomorrow.")


class GuardianInvalid(IdentityError):
    code = "guardian_invalid"


class OperatorLocked(IdentityError):
    """Too many wrong passwords for this name from this address (or from this address overall)."""

    code = "operator_locked"
    status = 429
    message = _("Too many failed attempts. Try again after %(until)s.")


class OwnerRequired(IdentityError):
    code = "owner_required"
    status = 403
    message = _("Only an owner of the organisation can do this.")


class LastOwner(IdentityError):
    code = "last_owner"
    status = 409
    message = _("An organisation needs at least one owner. Make another member an owner first.")


class InvitationInvalid(IdentityError):
    code = "invitation_invalid"
    status = 404
    message = _("This invitation link is not valid: it was already used, it expired, or it was withdrawn.")


class UsernameTaken(IdentityError):
    code = "username_taken"
    status = 409
    message = _("This username is taken. Choose another one.")


class MemberExists(IdentityError):
    code = "member_exists"
    status = 409
    message = _("This person is already a member of the organisation.")


class OtpWrong(IdentityError):
    code = "otp_wrong"
    message = _("That code from your authenticator app is wrong or expired. Nothing was changed.")


class PasswordRejected(IdentityError):
    code = "password_rejected"
    message = _("Choose a stronger password.")
