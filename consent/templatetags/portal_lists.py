"""Words for the codes a person meets on their own lists: modalities, operations, why a use was refused."""

from datetime import timedelta

from django import template
from django.conf import settings
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext, pgettext_lazy

from consent.models import Notification
from consent.templatetags.consent_labels import (
    CHANNELS,
    modality_label,
    notification_reason_label,
    operation_label,
    verify_reason_label,
)

register = template.Library()
# The same words as everywhere else, for the templates that load only this library.
register.filter("modality_label", modality_label)
register.filter("operation_label", operation_label)
register.filter("verify_reason_label", verify_reason_label)
register.filter("notification_reason_label", notification_reason_label)


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


# ---- the messages we sent the person (a consent's page) ----------------------------------------------


@register.filter
def notice_channels(notification) -> list[tuple[str, bool]]:
    """Each way a notice was tried, in words, and whether the gateway took it on any attempt (from the
    prefetched attempts: no query per notice)."""
    taken: dict[str, bool] = {}
    for attempt in notification.attempts.all():
        taken[attempt.channel] = taken.get(attempt.channel, False) or attempt.ok
    return [(str(CHANNELS.get(channel, _("another way"))), ok) for channel, ok in taken.items()]


NOTICE_STATES = {
    Notification.State.QUEUED: _("waiting to be sent"),
    Notification.State.SENT: pgettext_lazy("a message", "sent"),
    Notification.State.FAILED: _("could not be sent"),
    Notification.State.SKIPPED: pgettext_lazy("a message", "not sent"),
}


def _never_tried(notification) -> bool:
    """Failed without an attempt: services.notify closed it before sending (its request was no longer open)."""
    return notification.state == Notification.State.FAILED and not notification.attempts.all()


@register.filter
def notice_state_label(notification) -> str:
    """A notice's outcome, short enough for a badge; a failure with no attempt was never tried (see below)."""
    if _never_tried(notification):
        return str(NOTICE_STATES[Notification.State.SKIPPED])
    return str(NOTICE_STATES.get(notification.state, NOTICE_STATES[Notification.State.QUEUED]))


@register.filter
def notice_not_sent_because(notification) -> str:
    """Why a notice was rightly not sent, in words; empty when it was sent, is waiting, or the gateway failed.

    services.notify leaves two such cases: a request's notice whose request was decided, cancelled or expired
    before it went (failed, never tried), and a reminder whose consent had ended already (skipped).
    """
    if _never_tried(notification):
        return str(_("Not sent because the request was no longer open."))
    if notification.state == Notification.State.SKIPPED:
        return str(_("Not sent because the consent had already ended."))
    return ""
