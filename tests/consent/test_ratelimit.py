"""The per-key rate limit's counting (consent.api.ratelimit): the limit holds over any `period`, a refused
call is not counted, and the wait it names is long enough; on Redis as on the cache API."""

import os
import uuid

import pytest

from consent.api.ratelimit import rate_limit_hit

PERIOD, LIMIT = 60, 2
START = 1_800_000_000 - 1_800_000_000 % PERIOD  # the start of a window


REDIS = os.environ.get("CELERY_BROKER_URL", "")
NO_REDIS = pytest.mark.skipif(not REDIS.startswith("redis://"), reason="needs a Redis: set CELERY_BROKER_URL")


@pytest.fixture(params=["locmem", pytest.param("redis", marks=NO_REDIS)])
def counter(request, settings):
    """A fresh namespace in the cache the limit lives in (a real Redis for the second run)."""
    from django.core.cache import caches

    if request.param == "redis":
        url = REDIS.rsplit("/", 1)[0]  # its keys expire after two periods; nothing is flushed
        settings.CACHES = {
            "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": f"{url}/15"}
        }
    else:
        settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    assert caches["default"].__class__.__name__ == ("RedisCache" if request.param == "redis" else "LocMemCache")
    prefix = f"test-limit-{uuid.uuid4().hex}"
    yield lambda now: rate_limit_hit(prefix, limit=LIMIT, period=PERIOD, now=now)
    if request.param == "locmem":
        caches["default"].clear()


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
