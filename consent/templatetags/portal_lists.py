"""Words for the codes a person meets on their own lists: modalities, operations, why a use was refused."""

from datetime import timedelta

from django import template
from django.conf import settings
from django.utils.translation import pgettext

from consent.models import Modality, Operation
from consent.tokens import VerifyReason

register = template.Library()


@register.filter
def modality_label(value) -> str:
    return str(dict(Modality.choices).get(value, value))


@register.filter
def operation_label(value) -> str:
    return str(dict(Operation.choices).get(value, value))


@register.filter
def verify_reason_label(value) -> str:
    return str(dict(VerifyReason.choices).get(value, value))


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
