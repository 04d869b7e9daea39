"""The per-key API rate limit: a sliding window estimated from two fixed-window counters.

DRF's SimpleRateThrottle keeps a list of every request's time in the cache, read and rewritten whole on
each call (two round trips, and a list as long as the limit). Here each call is one Redis round trip
(INCR, EXPIRE and a GET of the previous window, pipelined): the count of the last `period` seconds is
this window's count plus the previous window's, weighted by how much of it the last `period` still
covers. A refused call is taken back, so that calling on while limited does not prolong the wait.

The wait named on a refusal (the API's Retry-After) is when this estimate admits the call again, to the
second: retried then it is admitted, a second sooner it is not. Since a window's calls weigh on the next
one as they fade, that can be up to two periods after the first of them (a limit of one call a minute, used
at the start of a window, admits the next at the end of the following one): the estimate's cost, which
the wait states rather than hides.
"""

import contextlib
import time

from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache

MICROSECONDS = 1_000_000


def _count(current: str, previous: str, ttl: int) -> tuple[int, int]:
    """Add one to `current` and read `previous`: one round trip on Redis, the cache API elsewhere."""
    cache = caches["default"]
    if isinstance(cache, RedisCache):
        # Integers are stored as plain Redis integers by Django's serializer, so INCR and GET see numbers.
        key, before = cache.make_and_validate_key(current), cache.make_and_validate_key(previous)
        pipe = cache._cache.get_client(key, write=True).pipeline(transaction=False)
        pipe.incr(key)
        pipe.expire(key, ttl)
        pipe.get(before)
        count, _ok, earlier = pipe.execute()
        return int(count), int(earlier or 0)
    cache.add(current, 0, ttl)
    try:
        count = cache.incr(current)
    except ValueError:  # expired between add and incr
        cache.set(current, 1, ttl)
        count = 1
    return count, int(cache.get(previous) or 0)


def _take_back(current: str) -> None:
    with contextlib.suppress(ValueError):  # the window ended meanwhile: nothing left to take back
        caches["default"].decr(current)


def rate_limit_hit(key: str, *, limit: int, period: int, now: float | None = None) -> int | None:
    """Count one call under `key`. None when it is within `limit` calls per `period` seconds, otherwise the
    whole seconds after which the same call is admitted (if no other is made meanwhile): admitted when
    retried that many seconds later, refused one second sooner. A refused call is not counted.

    Time is counted in whole microseconds, so that the limit's test and the wait agree to the last one.
    """
    now_us = time.time_ns() // 1000 if now is None else round(now * MICROSECONDS)
    span = period * MICROSECONDS
    window, elapsed = divmod(now_us, span)
    current, previous = f"{key}:{window}", f"{key}:{window - 1}"
    count, before = _count(current, previous, ttl=2 * period)
    # The calls of the last `period`: this window's, and the previous window's times the share of it the
    # period still covers, (span - elapsed) / span. Multiplied out by `span`, so that it is exact.
    if before * (span - elapsed) + count * span <= limit * span:
        return None
    _take_back(current)
    wait = _wait(admitted=count - 1, before=before, limit=limit, span=span, elapsed=elapsed)
    return max(1, -(-wait // MICROSECONDS))  # rounded up to whole seconds


def _wait(*, admitted: int, before: int, limit: int, span: int, elapsed: int) -> int:
    """Microseconds until one more call fits, `admitted` calls into this window and `before` in the last.

    The previous window's weight falls linearly to 0 at the end of this one, then this window's count
    becomes the fading one. A call at x microseconds into a window whose predecessor had b calls fits when
    b * (span - x) <= room * span, room being the calls the limit leaves besides it in its own window:
    from x = span - floor(room * span / b) on.
    """
    if limit <= 0:  # nothing fits in any window: name the next one (no honest wait exists)
        return span - elapsed
    room = limit - admitted - 1
    if room >= 0:  # within this window, as soon as the previous one weighs at most `room` calls
        return span - room * span // before - elapsed if before else 0
    # Not before the next window, where nothing is counted yet and this window's calls fade.
    return (span - elapsed) + span - (limit - 1) * span // admitted
