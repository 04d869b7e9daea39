"""The per-key API rate limit: a sliding window estimated from two fixed-window counters.

DRF's SimpleRateThrottle keeps a list of every request's time in the cache, read and rewritten whole on
each call (two round trips, and a list as long as the limit). Here each call is one Redis round trip
(INCR, EXPIRE and a GET of the previous window, pipelined): the count of the last `period` seconds is
this window's count plus the previous window's, weighted by how much of it the last `period` still
covers. A refused call is taken back, so that calling on while limited does not prolong the wait.
"""

import contextlib
import math
import time

from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache


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
    """Count one call under `key`. None when it is within `limit` calls per `period` seconds, otherwise
    the whole seconds to wait (at least 1) before a call fits again; a refused call is not counted."""
    now = time.time() if now is None else now
    window = int(now // period)
    current, previous = f"{key}:{window}", f"{key}:{window - 1}"
    count, before = _count(current, previous, ttl=2 * period)
    elapsed = now - window * period
    if before * (1 - elapsed / period) + count <= limit:
        return None
    _take_back(current)
    count -= 1
    # The previous window's weight falls linearly to 0 at the end of this one; find when one more call fits.
    if count <= 0:  # a limit of 0: nothing fits in any window
        wait = period - elapsed
    elif count < limit:
        wait = period * (1 - (limit - count - 1) / before) - elapsed if before else 0.0
    else:  # not before the next window, where this window's count becomes the fading one
        wait = (period - elapsed) + period * (1 - (limit - 1) / count)
    return max(1, math.ceil(wait))
