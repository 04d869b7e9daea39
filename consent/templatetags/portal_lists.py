"""Words for the codes a person meets on their own lists: modalities, operations, why a use was refused."""

from datetime import timedelta

from django import template
from django.conf import settings
from django.utils.translation import pgettext

from consent.templatetags.consent_labels import modality_label, operation_label, verify_reason_label

register = template.Library()
# The same words as everywhere else, for the templates that load only this library.
register.filter("modality_label", modality_label)
register.filter("operation_label", operation_label)
register.filter("verify_reason_label", verify_reason_label)


@register.filter
def cooldown_end(decided_at):
    """The moment the organisation may ask again after a "no" (the rule lives in services.requests)."""
    if not decided_at:
        return None
    return decided_at + timedelta(days=settings.CONSENT_DENIAL_COOLDOWN_DAYS)


@register.simple_tag
def cooldown_days() -> int:
    return settings.CONSENT_DENIAL_COOLDOWN_DAYS


@register.filter
def operation_list(values) -> str:
    # Chinese lists take the enumeration comma "、", not ", ": the separator is translated too.
    return pgettext("list separator", ", ").join(operation_label(value) for value in values)
