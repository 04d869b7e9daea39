"""Expected failures of the consent app: a stable code, a message a person can act on, field errors."""

from django.utils.translation import gettext_lazy as _

from errors import ApplicationError


class ConsentError(ApplicationError):
    code = "consent_error"


class InvalidRequest(ConsentError):
    code = "invalid"


class SampleTooLarge(ConsentError):
    code = "sample_too_large"
    status = 413
    message = _("A sample is larger than %(limit)s bytes; nothing was stored.")


class PersonBlockedOrganization(ConsentError):
    code = "person_blocked_organization"
    status = 409
    message = _("This person has blocked requests from your organisation. No request can be sent to them.")


class CoolingDown(ConsentError):
    code = "cooling_down"
    status = 409
    message = _(
        "This person refused a %(modality)s request from your organisation on %(date)s. "
        "A new %(modality)s request can be sent after %(until)s."
    )


class NotPending(ConsentError):
    code = "not_pending"
    status = 409
    message = _("This has already been decided or is no longer open (%(state)s).")


class RequestExpired(ConsentError):
    code = "request_expired"
    status = 409
    message = _("This request has expired. Ask the organisation to send a new one if you still want to decide.")


class NotForThisPerson(ConsentError):
    code = "not_for_this_person"
    status = 403
    message = _(
        "This request was sent to another mobile number. Sign out and sign in with the number that received the SMS."
    )


class ConsentNotActive(ConsentError):
    code = "consent_not_active"
    status = 409
    message = _("This consent is already %(state)s.")


class ResendLimited(ConsentError):
    code = "resend_limited"
    status = 429
    message = _("The notification was sent recently. You can send it again after %(when)s.")


class RateLimited(ConsentError):
    """Too many notifications (each an SMS to a person) in a window; `retry_after` is in seconds."""

    code = "rate_limited"
    status = 429
    message = _("Too many notifications were sent. Try again after %(when)s.")


class IdempotencyKeyReused(ConsentError):
    code = "idempotency_key_reused"
    status = 422
    message = _("This Idempotency-Key was already used with a different body. Use a new key for a new request.")


class ApiKeyRevoked(ConsentError):
    code = "api_key_revoked"
    status = 409
    message = _("This key is revoked; create a new key instead.")


class PresentationNotFound(ConsentError):
    code = "presentation_not_found"
    status = 404
    message = _(
        "No verify call with this id was made by your organisation. Send the presentation_id of the verify answer."
    )


class PresentationNotActive(ConsentError):
    code = "presentation_not_active"
    status = 409
    message = _("This verify call did not answer active: no output may be registered under it.")


class PresentationTooOld(ConsentError):
    code = "presentation_too_old"
    status = 409
    message = _(
        "This verify call is older than %(minutes)s minutes. Verify the token again before the job and register "
        "the output with the new presentation_id."
    )


class MediaTypeNotConsented(ConsentError):
    code = "media_type_not_consented"
    status = 400
    message = _("A %(modality)s consent does not cover %(media_type)s outputs.")


class OutputRegisteredElsewhere(ConsentError):
    code = "output_registered_under_another_consent"
    status = 409
    message = _("Your organisation already registered this output (same SHA-256) under another consent.")


class ThumbnailInvalid(ConsentError):
    code = "thumbnail_invalid"
    status = 400
    message = _("The thumbnail must be a PNG or JPEG image of at most %(kb)s KB.")
