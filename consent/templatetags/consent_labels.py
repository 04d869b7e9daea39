"""Human words for stored codes: operations and verification methods, translated."""

import re

from django import template
from django.utils import timezone, translation
from django.utils.dateparse import parse_datetime
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext, pgettext_lazy

from consent import webhooks
from consent.models import ConsentRequest, EndUserVerification, Modality, Notification, Operation, RequestItem
from consent.records.receipt import terms_recipients
from consent.services.retention import item_samples_erase_due_at

register = template.Library()


def operation_labels(values) -> list[str]:
    labels = dict(Operation.choices)
    return [str(labels.get(value, value)) for value in values]


@register.filter(name="operation_labels")
def operation_labels_filter(values) -> str:
    return ", ".join(operation_labels(values))


@register.filter
def modality_label(value, language: str = "") -> str:
    """ "face" → "your face" (人脸); `language` forces one language (an SMS is always Chinese)."""
    with translation.override(language or translation.get_language()):
        return str(dict(Modality.choices).get(value, value))


STATEMENT_FAILURES = {
    "no_speech": _("no speech was heard"),
    "no_face": _("no face was found in the video"),
    "face_mismatch": _("the face does not match the samples closely enough"),
    "voice_mismatch": _("the voice does not match the samples closely enough"),
    "undecodable": _("the recording could not be decoded"),
    "check_unavailable": _("the automatic check is not installed on this server"),
}


@register.filter
def statement_failure_label(value) -> str:
    return str(STATEMENT_FAILURES.get(value, value))


@register.filter
def retention_words(days, language: str = "") -> str:
    """The retention promise in words, from the request's number of days (the person reads this, not free text)."""
    if days is None or days == "":
        return ""
    days = int(days)
    with translation.override(language or translation.get_language()):
        if days == 0:
            return str(
                _(
                    "Your samples are erased as soon as the consent ends (you withdraw it or it expires), or as soon "
                    "as you say no or the request is cancelled or expires. The record of your decision and the "
                    "samples' fingerprints are kept as proof."
                )
            )
        return ngettext(
            "Your samples are erased %(n)s day after the consent ends (you withdraw it or it expires), or after you "
            "say no or the request is cancelled or expires. The record of your decision and the samples' "
            "fingerprints are kept as proof.",
            "Your samples are erased %(n)s days after the consent ends (you withdraw it or it expires), or after "
            "you say no or the request is cancelled or expires. The record of your decision and the samples' "
            "fingerprints are kept as proof.",
            days,
        ) % {"n": days}


@register.filter
def samples_erase_due(item):
    """When this item's samples will be erased, or None while they are still in use."""
    return item_samples_erase_due_at(item)


@register.filter
def outcome_label(state) -> str:
    """An item's outcome as the person reads it on the completion page."""
    return str(ITEM_OUTCOMES.get(state, dict(RequestItem.State.choices).get(state, state)))


ITEM_OUTCOMES = {
    RequestItem.State.PENDING: _("not decided yet"),
    RequestItem.State.GRANTED: _("you agreed"),
    RequestItem.State.DENIED: _("you said no"),
    RequestItem.State.CANCELLED: _("cancelled by the organisation"),
    RequestItem.State.EXPIRED: _("expired without a decision"),
}


@register.filter
def request_state_sentence(state) -> str:
    return str(REQUEST_STATES.get(state, state))


REQUEST_STATES = {
    ConsentRequest.State.COMPLETED: _("Every item of this request is decided."),
    ConsentRequest.State.CANCELLED: _("The organisation cancelled this request; nothing can be decided any more."),
    ConsentRequest.State.EXPIRED: _("This request expired; nothing can be decided any more."),
}


@register.filter
def verification_method_label(value) -> str:
    return str(dict(EndUserVerification.choices).get(value, value))


DELIVERY_ERRORS = {
    webhooks.ERROR_UNREACHABLE: _("unreachable"),
    webhooks.ERROR_TIMEOUT: _("timed out"),
    webhooks.ERROR_NOT_PUBLIC: _("address not allowed (not a public address)"),
    webhooks.ERROR_UNRESOLVABLE: _("host name not found"),
    webhooks.ERROR_SECRET: _("signing secret unavailable; set the URL again to get a new one"),
}


@register.filter
def delivery_error(value) -> str:
    """A delivery log's error in words; anything else (older rows held raw exception text) reads "unreachable"."""
    if not value or value.startswith("HTTP "):
        return ""  # the status code is shown already
    return str(DELIVERY_ERRORS.get(value, DELIVERY_ERRORS[webhooks.ERROR_UNREACHABLE]))


# ---- the back-office: codes stored in records and in the audit trail, in words ------------------

LANGUAGES = {"zh-hans": _("Simplified Chinese"), "en": _("English")}


@register.filter
def language_label(value) -> str:
    return str(LANGUAGES.get(value, value))


@register.filter
def notification_reason_label(value) -> str:
    return str(dict(Notification.Reason.choices).get(value, value))


# The way a message went, as the portal names it too ("e-mail", 电子邮件: not an e-mail address, 电子邮箱).
CHANNELS = {"sms": pgettext_lazy("message channel", "SMS"), "email": pgettext_lazy("message channel", "e-mail")}


@register.filter
def channel_label(value) -> str:
    return str(CHANNELS.get(value, value))


@register.filter
def operation_label(value) -> str:
    return str(dict(Operation.choices).get(value, value))


@register.filter
def verify_reason_label(value) -> str:
    """Why a presentation was refused (tokens.VerifyReason), in words."""
    from consent.tokens import VerifyReason  # tokens loads keys and JOSE; only this filter needs it

    return str(dict(VerifyReason.choices).get(value, value))


# Every action name that audit.record is given for something an organisation sees. An action missing here
# still shows, as its code: tests/consent/test_office_records.py checks that none is missing.
AUDIT_ACTIONS = {
    "membership.invite": _("member invited"),
    "membership.invitation_accept": _("invitation accepted"),
    "membership.invitation_revoke": _("invitation withdrawn"),
    "office.export": _("list exported (CSV)"),
    "operator.backup_codes_regenerate": _("backup codes regenerated"),
    "operator.totp_reenrolled": _("authenticator app replaced"),
    "person.code_failed": _("wrong SMS code entered"),
    "person.code_locked": _("SMS code locked after too many tries"),
    "person.code_sent": _("SMS code sent"),
    "person.create": _("person first seen"),
    "person.erase": _("identity data erased"),
    "person.export": _("data copy downloaded"),
    "person.signin": _("person signed in"),
    "person.verify_conflict": _("identity already verified by another account"),
    "pii.rotate": _("personal data re-encrypted under a new key"),
    "api_key.create": _("API key created"),
    "api_key.revoke": _("API key revoked"),
    "api_key.rotate": _("API key rotated"),
    "artifact.create": _("signed PDF record made"),
    "audit.purge": _("old audit events purged"),
    "consent.expire": _("consent expired"),
    "consent.grant": _("consent granted"),
    "consent.logs_purge": _("presentation log purged"),
    "consent.notified": _("person told of the consent's end (reminder or expiry)"),
    "consent.notify_failed": _("notice of the consent's end could not be sent"),
    "consent.notify_skipped": _("notice of the consent's end not sent (withdrawn or account deleted)"),
    "consent.revoke": _("consent withdrawn"),
    "guardian.set": _("guardian recorded"),
    "guardian.verify": _("guardian's identity checked"),
    "item.samples_erase": _("reference samples erased"),
    "item.deny": _("item refused by the person"),
    "membership.create": _("member added"),
    "membership.remove": _("member removed"),
    "membership.role_change": _("member's role changed"),
    "operator.create": _("operator account created"),
    "operator.locked": _("operator account locked"),
    "operator.login": _("operator signed in"),
    "operator.login_failed": _("operator sign-in failed"),
    "operator.otp_failed": _("wrong one-time code"),
    "operator.password_ok": _("operator password accepted"),
    "operator.password_set": _("operator password changed"),
    "operator.password_reset_request": _("operator password reset link sent"),
    "operator.totp_enrolled": _("authenticator app enrolled"),
    "operator.update": _("operator account updated"),
    "organization.block": _("person blocked the organisation"),
    "organization.create": _("organisation created"),
    "organization.settings_update": _("organisation settings changed"),
    "organization.unblock": _("person unblocked the organisation"),
    "organization.update": _("organisation profile changed"),
    "output.consent_withdrawn": _("outputs marked: consent withdrawn"),
    "output.display_set": _("output thumbnails shown or hidden"),
    "output.register": _("generated output registered"),
    "person.requests_detached": _("person's requests detached"),
    "person.verify": _("person's identity checked"),
    "request.cancel": _("request cancelled"),
    "request.create": _("request created"),
    "request.expire": _("request expired"),
    "request.notified": _("notice sent to the person"),
    "request.notify_failed": _("notice could not be sent"),
    "request.open": _("request opened by the person"),
    "request.open_refused": _("request opened by someone else and refused"),
    "request.resend": _("notice sent again"),
    "statement.approve": _("recorded statement approved by the organisation"),
    "statement.check": _("recorded statement checked against the samples"),
    "statement.erase": _("recorded statement erased"),
    "statement.record": _("consent statement recorded"),
    "statement.refuse": _("recorded statement refused by the organisation"),
    "signing_key.create": _("signing key created"),
    "signing_key.rotate": _("signing key rotated"),
    "webhook.failed": _("webhook delivery gave up"),
    "webhook_endpoint.create": _("webhook endpoint set"),
    "webhook_endpoint.delete": _("webhook endpoint removed"),
    "webhook_endpoint.update": _("webhook endpoint changed"),
    "webhook_event.resend": _("webhook event sent again"),
}


@register.filter
def audit_action_label(value) -> str:
    return str(AUDIT_ACTIONS.get(value, value))


WEBHOOK_EVENT_TYPES = {
    "consent.granted": _("consent granted"),
    "consent.denied": _("item refused by the person"),
    "consent.revoked": _("consent withdrawn"),
    "consent.expired": _("consent expired"),
    "request.expired": _("request expired"),
    "output.consent_withdrawn": _("output's consent withdrawn: take it down"),
}


@register.filter
def webhook_event_label(value) -> str:
    """A webhook event's type in words; the type itself stays the receiver's contract (shown beside it)."""
    return str(WEBHOOK_EVENT_TYPES.get(value, value))


AUDIT_TARGETS = {
    "consent.consentrequest": _("request"),
    "consent.consent": _("consent"),
    "consent.requestitem": _("item"),
    "consent.apikey": _("API key"),
    "consent.artifact": _("PDF record"),
    "consent.webhookendpoint": _("webhook endpoint"),
    "consent.webhookevent": _("webhook event"),
    "consent.notification": _("notice"),
    "consent.output": _("generated output"),
    "identity.user": _("operator"),
    "identity.membership": _("membership"),
    "identity.organization": _("organisation"),
    "identity.person": _("person"),
}


@register.filter
def audit_target_label(value) -> str:
    return str(AUDIT_TARGETS.get(value, value))


# Keys that many events carry, in words; others show as stored. `organization` is left out: the page is
# already scoped to one organisation.
AUDIT_DATA_KEYS = {
    "device": _("device"),
    "device_id": _("device"),
    "error": _("error"),
    "expires_at": _("open until"),
    "ip": _("IP address"),
    "item": _("item"),
    "items": _("items"),
    "reason": _("reason"),
    "role": _("role"),
    "scopes": _("scopes"),
    "state": _("state"),
    "terms_sha256": _("terms digest (SHA-256)"),
    "uscc": _("USCC"),
}
AUDIT_DATA_HIDDEN = {"organization"}
ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


def _audit_value(value) -> str:
    if value in (None, ""):
        return "—"
    if isinstance(value, str) and ISO_TIME.match(value):
        parsed = parse_datetime(value)
        if parsed is not None:
            return date_format(timezone.localtime(parsed) if timezone.is_aware(parsed) else parsed, "Y-m-d H:i:s")
    return str(value)


@register.filter
def audit_data_rows(data) -> list[tuple[str, str]]:
    """An event's data as (label, value) lines, nested keys joined by dots, for a definition list."""
    rows: list[tuple[str, str]] = []

    def walk(prefix: str, value) -> None:
        if isinstance(value, dict):
            for key in sorted(value):
                if not prefix and key in AUDIT_DATA_HIDDEN:
                    continue
                label = str(AUDIT_DATA_KEYS.get(key, key))
                walk(f"{prefix}.{label}" if prefix else label, value[key])
        elif isinstance(value, list) and all(not isinstance(v, dict | list) for v in value):
            rows.append((prefix, ", ".join(str(v) for v in value)))
        elif isinstance(value, list):
            for n, v in enumerate(value, 1):
                walk(f"{prefix}[{n}]", v)
        else:
            rows.append((prefix, _audit_value(value)))

    walk("", data or {})
    return rows


@register.filter
def recipient_names(value) -> str:
    """The notice's other recipients, named; a list since recipients are structured (free text before)."""
    names = terms_recipients({"notice": {"recipients": value if value is not None else []}})
    return "; ".join(names) if names else str(_("Nobody else"))
