"""The per-key rate limit's counting (consent.api.ratelimit): the limit holds over any `period`, a refused
call is not counted, and the wait it names is exact: a call retried that many seconds later is admitted,
one retried a second sooner is not; on Redis as on the cache API, with the clock in the test's hands."""

import os
import random
import uuid

import pytest

from consent.api.ratelimit import rate_limit_hit

PERIOD, LIMIT = 60, 2
START = 1_800_000_000 - 1_800_000_000 % PERIOD  # the start of a window


def _redis_url() -> str:
    """The broker's Redis when it is one, else a Redis on 127.0.0.1:6379 if one answers; else none."""
    url = os.environ.get("CELERY_BROKER_URL", "")
    if url.startswith("redis://"):
        return url
    import redis

    try:
        redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=0.2).ping()
    except redis.RedisError:
        return ""
    return "redis://127.0.0.1:6379/0"


REDIS = _redis_url()
NO_REDIS = pytest.mark.skipif(not REDIS, reason="needs a Redis: set CELERY_BROKER_URL or run one on 127.0.0.1:6379")


@pytest.fixture(params=["locmem", pytest.param("redis", marks=NO_REDIS)])
def counter(request, settings):
    """A fresh namespace in the cache the limit lives in (a real Redis for the second run)."""
    from django.core.cache import caches

    previous = settings.CACHES
    if request.param == "redis":
        url = REDIS.rsplit("/", 1)[0]  # database 15, keys under a fresh prefix expiring after two periods
        settings.CACHES = {
            "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": f"{url}/15"}
        }
    else:
        settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    assert caches["default"].__class__.__name__ == ("RedisCache" if request.param == "redis" else "LocMemCache")
    prefix = f"test-limit-{uuid.uuid4().hex}"
    yield lambda now, limit=LIMIT: rate_limit_hit(prefix, limit=limit, period=PERIOD, now=now)
    # Back to the suite's cache before the autouse `_fresh_cache` clears it: clearing a Redis cache is a
    # FLUSHDB, which would wipe the keys of a test running meanwhile in another process (or checkout).
    settings.CACHES = previous


def test_the_limit_admits_limit_calls_then_names_a_wait(counter):
    assert counter(START + 1) is None
    assert counter(START + 2) is None
    assert counter(START + 3) > 0


def test_the_previous_window_still_counts_for_the_part_of_it_the_last_period_covers(counter):
    counter(START + 50)
    counter(START + 55)
    # 10 s into the next window, 50 s of the previous one are still within the last minute.
    assert counter(START + PERIOD + 10) is not None


def test_refused_calls_are_not_counted(counter):
    counter(START + 1)
    counter(START + 2)
    for second in range(3, 103):
        assert counter(START + second % PERIOD) is not None
    # Late in the next window the two admitted calls weigh 2/60; a hundred refused ones would weigh 100/60.
    assert counter(START + PERIOD + 59) is None


@pytest.mark.parametrize("calls_at", [(1, 2), (50, 55), (59, 59), (0, 30)])
def test_the_named_wait_is_enough(counter, calls_at):
    for second in calls_at:
        assert counter(START + second) is None
    refused_at = START + max(calls_at) + 0.5
    wait = counter(refused_at)
    assert wait is not None and wait >= 1
    assert counter(refused_at + wait) is None


def assert_exact(counter, refused_at: float, wait: int, limit: int = LIMIT) -> None:
    """A second sooner is still refused (and names the one second left); at `wait` the call is admitted."""
    if wait > 1:
        assert counter(refused_at + wait - 1, limit) == 1
    assert counter(refused_at + wait, limit) is None


@pytest.mark.parametrize(
    ("limit", "calls_at", "refused_at", "wait"),
    [
        # Two calls early in a window: the third fits once they weigh one call, halfway through the next.
        (2, (1, 2), 3, 87),
        # Two calls late in the last window, none in this one: it fits once they weigh one call, at 30 s
        # (not at the end of this window).
        (2, (50, 55), PERIOD, 30),
        # Whole seconds where the previous window's weight meets the limit exactly (3 × 40/60 = 2 calls).
        (2, (40, 41), PERIOD + 10, 20),
        (3, (10, 20, 30), PERIOD, 20),
        # Fractions: 0.25 s left in this window, then half the next one: 30.25 s, rounded up.
        (2, (0.5, 59.75), 59.75, 31),
    ],
)
def test_the_named_wait_is_the_exact_wait(counter, limit, calls_at, refused_at, wait):
    for second in calls_at:
        assert counter(START + second, limit) is None
    assert counter(START + refused_at, limit) == wait
    assert_exact(counter, START + refused_at, wait, limit=limit)


def test_a_limit_of_one_call_waits_for_the_call_to_fade_out_of_the_next_window(counter):
    # The sliding window is estimated from two fixed ones: one call at the start of a window still weighs
    # a whole call until the end of the next. The wait says so: the honest one, nearly two periods.
    assert counter(START + 0.5, 1) is None
    wait = counter(START + 1, 1)
    assert wait == 2 * PERIOD - 1
    assert_exact(counter, START + 1, wait, limit=1)


@pytest.mark.parametrize("seed", range(4))
def test_every_named_wait_is_exact(counter, seed):
    """Random calls with fractional times over three windows; each refusal's wait is checked both ways."""
    rng = random.Random(seed)
    checked = 0
    for _ in range(40):
        limit = rng.choice([1, 2, 3, 5])
        now = START + rng.choice([0, 0.5, 17, 59.5]) + 1000 * PERIOD * rng.randrange(1000)  # fresh windows
        for _ in range(rng.randint(2, 12)):
            now += rng.choice([0, 0.25, 1, 7, 13.5, 30, 45])
            wait = counter(now, limit)
            if wait is None:
                continue
            assert_exact(counter, now, wait, limit=limit)
            now += wait
            checked += 1
    assert checked > 50
