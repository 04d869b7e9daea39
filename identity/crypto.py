"""Personal data at rest: AES-GCM encryption with rotating keys, and an HMAC blind index for look-ups.

Keys come from the environment (PII_ENCRYPTION_KEYS = "kid:base64key,kid2:base64key", the first one
encrypts; PII_INDEX_KEY for the blind index). Development uses fixed keys so a fresh checkout runs.
"""

import base64
import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class DecryptionError(Exception):
    pass


def _keys() -> list[tuple[str, bytes]]:
    parsed = []
    for entry in settings.PII_ENCRYPTION_KEYS:
        kid, _, b64 = entry.partition(":")
        key = base64.b64decode(b64)
        if not kid or len(key) != 32:
            raise ImproperlyConfigured("PII_ENCRYPTION_KEYS entries must be 'kid:base64 of 32 bytes'")
        parsed.append((kid, key))
    if not parsed:
        raise ImproperlyConfigured("PII_ENCRYPTION_KEYS is empty")
    return parsed


def current_key_id() -> str:
    return _keys()[0][0]


def encrypt(plaintext: str, *, context: str) -> str:
    """Encrypt with the current key. `context` (e.g. the column) is authenticated, so ciphertexts can't be swapped."""
    kid, key = _keys()[0]
    nonce = os.urandom(12)
    ciphertext = AESGCM(key).encrypt(nonce, plaintext.encode(), context.encode())
    return f"{kid}:{base64.b64encode(nonce + ciphertext).decode()}"


def decrypt(token: str, *, context: str) -> str:
    kid, _, b64 = token.partition(":")
    key = dict(_keys()).get(kid)
    if key is None:
        raise DecryptionError(f"no key with id {kid!r} in PII_ENCRYPTION_KEYS")
    raw = base64.b64decode(b64)
    try:
        return AESGCM(key).decrypt(raw[:12], raw[12:], context.encode()).decode()
    except InvalidTag as exc:
        raise DecryptionError("ciphertext does not authenticate") from exc


def encrypt_bytes(plaintext: bytes, *, context: str) -> bytes:
    """Encrypt a file's bytes with the current key: `kid:` + nonce + ciphertext (recordings at rest)."""
    kid, key = _keys()[0]
    nonce = os.urandom(12)
    return kid.encode() + b":" + nonce + AESGCM(key).encrypt(nonce, plaintext, context.encode())


def decrypt_bytes(blob: bytes, *, context: str) -> bytes:
    kid, _, raw = blob.partition(b":")
    key = dict(_keys()).get(kid.decode(errors="replace"))
    if key is None:
        raise DecryptionError(f"no key with id {kid!r} in PII_ENCRYPTION_KEYS")
    try:
        return AESGCM(key).decrypt(raw[:12], raw[12:], context.encode())
    except InvalidTag as exc:
        raise DecryptionError("ciphertext does not authenticate") from exc


def key_id_of(token: str) -> str:
    return token.partition(":")[0]


def blind_index(value: str, *, purpose: str) -> str:
    """Keyed HMAC-SHA256 of a normalised value: equal inputs match, the index reveals nothing without the key."""
    key = base64.b64decode(settings.PII_INDEX_KEY)
    return hmac.new(key, f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()


def phone_index(phone: str) -> str:
    """Blind index of a normalised (E.164) phone number, for ledgers that count per number without keeping it."""
    return blind_index(phone, purpose="phone")


def mask_id_number(number: str) -> str:
    """1****************X: no more than a delivery slip shows. A wider mask (region + last four) together
    with any birth date rebuilt the whole number, since the check character is computable."""
    if len(number) < 2:
        return "*" * len(number)
    return number[0] + "*" * (len(number) - 2) + number[-1]


def mask_phone(phone: str) -> str:
    """+86138****5678: the form on a delivery slip, for logs and outboxes that need to say who, not to reach them."""
    if len(phone) < 8:
        return "*" * len(phone)
    return phone[:-8] + "****" + phone[-4:]


def mask_name(name: str) -> str:
    return name[0] + "*" * (len(name) - 1) if len(name) > 1 else "*"
