"""Human words for stored codes: operations and verification methods, translated."""

from django import template
from django.utils.translation import gettext_lazy as _

from consent import webhooks
from consent.models import EndUserVerification, Operation

register = template.Library()


def operation_labels(values) -> list[str]:
    labels = dict(Operation.choices)
    return [str(labels.get(value, value)) for value in values]


@register.filter(name="operation_labels")
def operation_labels_filter(values) -> str:
    return ", ".join(operation_labels(values))


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
