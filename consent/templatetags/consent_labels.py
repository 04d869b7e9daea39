"""Human words for stored codes: operations and verification methods, translated."""

from django import template

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
