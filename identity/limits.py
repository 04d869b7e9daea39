"""Counters in the shared cache for things that must not become rows: refused attempts and login failures.

A refused attempt is exactly what an attacker can repeat without bound, so it gets a cache counter
that expires with its window (and one log line per key and window) instead of a database row.
"""

import hashlib
import logging

from django.core.cache import cache

logger = logging.getLogger("identity.limits")


def _key(kind: str, key: str) -> str:
    # Keys may hold a phone's blind index or a user name: hash them so cache dumps and key lengths stay tame.
    return f"limits:{kind}:{hashlib.sha256(key.encode()).hexdigest()[:32]}"


def refusal_note(kind: str, key: str, *, window_seconds: int = 3600) -> int:
    """Count one refused attempt of `kind` for `key` in the current window; logs the first of each window."""
    name = _key(kind, key)
    if cache.add(name, 1, timeout=window_seconds):
        logger.warning("limit reached: %s (%s)", kind, name)
        return 1
    try:
        return cache.incr(name)
    except ValueError:  # expired between add and incr
        cache.add(name, 1, timeout=window_seconds)
        return 1


def refusals(kind: str, key: str) -> int:
    return cache.get(_key(kind, key), 0)


def state_get(kind: str, key: str) -> dict:
    return cache.get(_key(kind, key)) or {}


def state_set(kind: str, key: str, value: dict, *, timeout: int) -> None:
    cache.set(_key(kind, key), value, timeout=timeout)


def state_clear(kind: str, key: str) -> None:
    cache.delete(_key(kind, key))


def claim(kind: str, key: str, *, seconds: int) -> bool:
    """Take a short exclusive claim (atomic add in the shared cache); False when someone else holds it."""
    return cache.add(_key(kind, key), 1, timeout=seconds)


def release(kind: str, key: str) -> None:
    cache.delete(_key(kind, key))
