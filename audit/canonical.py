"""Canonical JSON (RFC 8785 style): sorted keys, no whitespace, UTF-8.

Values are limited to strings, integers, booleans, null, lists and objects; floats are refused
because their text form is where JSON encoders disagree.
"""

import hashlib
import json


def _check(value):
    if isinstance(value, float):
        raise TypeError("floats are not allowed in canonical JSON; use a string or an integer")
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError("object keys must be strings in canonical JSON")
            _check(item)
    elif isinstance(value, list | tuple):
        for item in value:
            _check(item)


def canonical_json(value) -> bytes:
    _check(value)
    return canonical_json_checked(value)


def canonical_json_checked(value) -> bytes:
    """For values already checked (an event's data is checked when it is recorded): the hot path of hashing."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def sha256_hex(value) -> str:
    return hashlib.sha256(canonical_json(value)).hexdigest()
