"""Human words for stored codes: operations and verification methods, translated."""

from django import template
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from consent import webhooks
from consent.models import ConsentRequest, EndUserVerification, Modality, Operation, RequestItem

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
