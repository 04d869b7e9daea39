"""The platform's Ed25519 key that signs audit checkpoints.

Production reads the PEM from PLATFORM_SIGNING_KEY; development generates one under VAR_DIR on
first use so that a fresh checkout works without preparation.
"""

import base64
import hashlib
import os
from functools import cache
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings

from audit import note


def _dev_key_pem() -> bytes:
    path = Path(settings.VAR_DIR) / "platform-ed25519.pem"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        # Write-then-rename so that two processes starting together agree on one key.
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(pem)
        tmp.chmod(0o600)
        if not path.exists():
            tmp.replace(path)
        else:
            tmp.unlink()
    return path.read_bytes()


@cache
def platform_private_key() -> Ed25519PrivateKey:
    pem = settings.PLATFORM_SIGNING_KEY.encode() if settings.PLATFORM_SIGNING_KEY else _dev_key_pem()
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("PLATFORM_SIGNING_KEY must be an Ed25519 private key in PEM form")
    return key


def public_key_raw(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def platform_key_id() -> str:
    return hashlib.sha256(public_key_raw(platform_private_key().public_key())).hexdigest()[:16]


def platform_public_key_pem() -> str:
    return (
        platform_private_key()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def sign(message: bytes) -> str:
    return base64.b64encode(platform_private_key().sign(message)).decode()


def verify(message: bytes, signature_b64: str, public_key: Ed25519PublicKey | None = None) -> bool:
    public_key = public_key or platform_private_key().public_key()
    try:
        public_key.verify(base64.b64decode(signature_b64), message)
    except (InvalidSignature, ValueError):
        return False
    return True


def log_origin() -> str:
    """The transparency log's name: the origin line of every checkpoint and the name of its note key."""
    return settings.AUDIT_LOG_ORIGIN


def log_verifier_key() -> str:
    """The published verifier key (C2SP signed-note form) that checks every checkpoint."""
    return note.verifier_key(log_origin(), platform_private_key().public_key())
