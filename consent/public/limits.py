"""How many checks one visitor may run on the public check pages (a signed PDF, a generated file).

Each check reads an upload of up to tens of MB, parses it and verifies signatures, with no sign-in: a loop
from one address must not be able to take the service down. Counted per client address in the shared
cache, as the API's limits are; the page answers 429 with a sentence and `Retry-After`, before the upload
is read.
"""

import math

from django.conf import settings
from django.shortcuts import render
from django.utils.translation import ngettext
from rest_framework.throttling import SimpleRateThrottle

from identity.net import client_ip


class PublicCheckThrottle(SimpleRateThrottle):
    scope = "public_check"

    def get_rate(self):
        return settings.PUBLIC_CHECK_RATE

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": client_ip(request) or "unknown"}

    def wait(self) -> float:
        """Seconds until a check fits again: when fewer than the limit are left in the last period, i.e. when
        the limit-th newest leaves it (the history is newest first). DRF's own wait spreads the rest of the
        period over the checks left: the same while the history holds exactly the limit, but 1 s to a
        visitor with a minute to wait once it holds more, as after the rate was lowered."""
        if self.num_requests < 1:  # nothing fits: no honest wait exists, name a period
            return self.duration
        return self.history[self.num_requests - 1] + self.duration - self.now


def check_refused(request) -> tuple[str, int] | None:
    """None when this visitor may run one more check now; else what to tell them and the seconds to wait."""
    throttle = PublicCheckThrottle()
    if throttle.allow_request(request, None):
        return None
    seconds = max(1, math.ceil(throttle.wait()))
    message = ngettext(
        "Too many checks from your network. Try again in %(seconds)s second.",
        "Too many checks from your network. Try again in %(seconds)s seconds.",
        seconds,
    ) % {"seconds": seconds}
    return message, seconds


def refused_page(request, template: str, form, refused: tuple[str, int]):
    """The check page again, its form empty, with the reason above it: 429 and `Retry-After`."""
    message, seconds = refused
    response = render(request, template, {"form": form, "refused": message}, status=429)
    response["Retry-After"] = str(seconds)
    return response
