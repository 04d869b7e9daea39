"""C2SP signed-note (Ed25519) and tlog-checkpoint text, as https://c2sp.org/signed-note and
https://c2sp.org/tlog-checkpoint define them. The Ed25519 arithmetic is `cryptography`'s; this module only
lays out the bytes (key hash, signature line, verifier key) and refuses anything that is not exactly that.
"""

import base64
import binascii
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ED25519 = b"\x01"  # the signature type byte for Ed25519
DASH = "\u2014 "  # em dash and a space start every signature line


class NoteError(ValueError):
    """A note, checkpoint or verifier key that is malformed or whose signature does not verify."""


def _raw(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _check_name(name: str) -> None:
    if not name or any(c.isspace() or c == "+" for c in name):
        raise NoteError("a key name must be non-empty, without spaces or '+'")


def key_hash(name: str, public_key: Ed25519PublicKey) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + ED25519 + _raw(public_key)).digest()[:4]


def verifier_key(name: str, public_key: Ed25519PublicKey) -> str:
    """The text form a verifier is given: `<name>+<hex key hash>+<base64(0x01 || public key)>`."""
    _check_name(name)
    return f"{name}+{key_hash(name, public_key).hex()}+{base64.b64encode(ED25519 + _raw(public_key)).decode()}"


@dataclass(frozen=True)
class Verifier:
    name: str
    public_key: Ed25519PublicKey

    @property
    def key_hash(self) -> bytes:
        return key_hash(self.name, self.public_key)


def verifier_parse(vkey: str) -> Verifier:
    try:
        name, hash_hex, key_b64 = vkey.strip().split("+", 2)
        raw = base64.b64decode(key_b64, validate=True)
        expected_hash = bytes.fromhex(hash_hex)
    except (ValueError, binascii.Error) as exc:
        raise NoteError("not a verifier key: expected <name>+<key hash>+<base64 key>") from exc
    _check_name(name)
    if len(raw) != 33 or raw[:1] != ED25519:
        raise NoteError("not an Ed25519 verifier key")
    verifier = Verifier(name, Ed25519PublicKey.from_public_bytes(raw[1:]))
    if verifier.key_hash != expected_hash:
        raise NoteError("the verifier key's hash does not match its name and key")
    return verifier


def sign(text: str, name: str, private_key: Ed25519PrivateKey) -> str:
    """A signed note: the text (ending in a newline), a blank line, one Ed25519 signature line."""
    _check_name(name)
    if not text.endswith("\n") or "\n\n" in text:
        raise NoteError("note text must end in a newline and contain no blank line")
    signature = private_key.sign(text.encode())
    line = base64.b64encode(key_hash(name, private_key.public_key()) + signature).decode()
    return f"{text}\n{DASH}{name} {line}\n"


def open_note(note: str, verifier: Verifier) -> str:
    """The text of a note if the verifier's signature on it checks out; NoteError otherwise."""
    text, sep, signatures = note.rpartition("\n\n")
    if not sep or not note.endswith("\n"):
        raise NoteError("not a signed note: no blank line before the signatures")
    text += "\n"
    for line in signatures.removesuffix("\n").split("\n"):
        if not line.startswith(DASH):
            raise NoteError("not a signed note: a signature line must start with an em dash")
        name, _, sig_b64 = line[len(DASH) :].rpartition(" ")
        try:
            blob = base64.b64decode(sig_b64, validate=True)
        except binascii.Error as exc:
            raise NoteError("not a signed note: a signature is not base64") from exc
        if name != verifier.name or blob[:4] != verifier.key_hash:
            continue  # someone else's signature (a witness): not ours to judge
        try:
            verifier.public_key.verify(blob[4:], text.encode())
        except InvalidSignature as exc:
            raise NoteError("the signature does not verify with the log's key") from exc
        return text
    raise NoteError("the note carries no signature by the log's key")


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root_hash: bytes

    def text(self) -> str:
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root_hash).decode()}\n"


def checkpoint_parse(text: str) -> Checkpoint:
    """A tlog-checkpoint body: origin, decimal size without leading zeros, base64 32-byte root hash."""
    lines = text.split("\n")
    if len(lines) < 4 or lines[-1] != "" or any(line == "" for line in lines[:-1]):
        raise NoteError("not a checkpoint: expected origin, size and root hash lines")
    origin, size, root_b64 = lines[:3]
    if not size.isdigit() or not size.isascii() or (size != "0" and size.startswith("0")):
        raise NoteError("not a checkpoint: the tree size is not a decimal number")
    try:
        root_hash = base64.b64decode(root_b64, validate=True)
    except binascii.Error as exc:
        raise NoteError("not a checkpoint: the root hash is not base64") from exc
    if len(root_hash) != 32:
        raise NoteError("not a checkpoint: the root hash is not 32 bytes")
    return Checkpoint(origin, int(size), root_hash)


def checkpoint_open(note: str, verifier: Verifier, *, origin: str | None = None) -> Checkpoint:
    """Verify a signed checkpoint and parse it; its origin must be the verifier's name (or `origin`)."""
    checkpoint = checkpoint_parse(open_note(note, verifier))
    if checkpoint.origin != (origin or verifier.name):
        raise NoteError(f"the checkpoint is for another log ({checkpoint.origin})")
    return checkpoint
