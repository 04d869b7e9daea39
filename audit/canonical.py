"""Canonical JSON (RFC 8785 style): sorted keys, no whitespace, UTF-8.

Values are limited to strings, integers, booleans, null, lists and objects; floats are refused
because their text form is where JSON encoders disagree.
"""

import hashlib
import json
from json.encoder import c_make_encoder, encode_basestring

# The same encoder json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False) builds on every
# call, built once: the C encoder when there is one (CPython), the pure-Python one otherwise.
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
encode_string = encode_basestring  # a str as a JSON string, without escaping non-ASCII


def _unserializable(value):
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


if c_make_encoder is not None:
    _c_encode = c_make_encoder(None, _unserializable, encode_basestring, None, ":", ",", True, False, True)

    def encode_value(value) -> str:
        """Canonical JSON text of a value from a database row (never self-referencing, so no cycle check)."""
        return "".join(_c_encode(value, 0))
else:  # pragma: no cover (interpreters without the C accelerator)
    encode_value = _ENCODER.encode


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
    return _ENCODER.encode(value).encode("utf-8")


def sha256_hex(value) -> str:
    return hashlib.sha256(canonical_json(value)).hexdigest()
