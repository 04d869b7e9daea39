"""A witness of the service's audit log: keeps the last signed checkpoint it saw and, on each run, checks that
the new one is signed by the log's key and that the log only grew since (an RFC 9162 consistency proof).

Anyone who keeps a checkpoint this way detects a log that was rewritten, shortened or rewound after they
saw it, and a checkpoint the service no longer serves. It needs nothing from the service but its HTTP
answers and the verifier key published at `/log/key` (get it once, out of band, and pin it).

    python -m likeness_consent_client.witness https://consent.example.com "$(cat log.vkey)" state.json
"""

import base64
import binascii
import hashlib
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

DASH = "\u2014 "


class LogError(Exception):
    """The log misbehaved (or answered nonsense). `code` is stable: bad_checkpoint, rewound, dropped_checkpoint,
    forked, inconsistent, bad_answer; for a record's evidence also bad_evidence and another_event."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root_hash: bytes
    note: str


# ---- C2SP signed-note and tlog-checkpoint ---------------------------------------------------------


@dataclass(frozen=True)
class VerifierKey:
    name: str
    key_hash: bytes
    public_key: Ed25519PublicKey

    @classmethod
    def parse(cls, text: str) -> "VerifierKey":
        try:
            name, hash_hex, key_b64 = text.strip().split("+", 2)
            raw = base64.b64decode(key_b64, validate=True)
            key_hash = bytes.fromhex(hash_hex)
        except (ValueError, binascii.Error) as exc:
            raise ValueError("not a verifier key") from exc
        if len(raw) != 33 or raw[0] != 1:
            raise ValueError("not an Ed25519 verifier key")
        if hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4] != key_hash:
            raise ValueError("the verifier key's hash does not match")
        return cls(name, key_hash, Ed25519PublicKey.from_public_bytes(raw[1:]))


def open_checkpoint(note: str, key: VerifierKey) -> Checkpoint:
    text, sep, signatures = note.rpartition("\n\n")
    if not sep or not note.endswith("\n"):
        raise LogError("bad_checkpoint", "not a signed note")
    text += "\n"
    for line in signatures[:-1].split("\n"):
        name, _, sig_b64 = line.removeprefix(DASH).rpartition(" ")
        if not line.startswith(DASH) or name != key.name:
            continue
        try:
            blob = base64.b64decode(sig_b64, validate=True)
        except binascii.Error:
            continue
        if blob[:4] != key.key_hash:
            continue
        try:
            key.public_key.verify(blob[4:], text.encode())
        except InvalidSignature as exc:
            raise LogError("bad_checkpoint", "the checkpoint's signature does not verify") from exc
        lines = text.split("\n")
        try:
            origin, size, root = lines[0], int(lines[1]), base64.b64decode(lines[2], validate=True)
        except (IndexError, ValueError, binascii.Error) as exc:
            raise LogError("bad_checkpoint", "not a tlog checkpoint") from exc
        decimal = lines[1].isascii() and lines[1].isdigit() and (lines[1] == "0" or not lines[1].startswith("0"))
        if origin != key.name or len(root) != 32 or not decimal:
            raise LogError("bad_checkpoint", "not a checkpoint of this log")
        return Checkpoint(origin, size, root, note)
    raise LogError("bad_checkpoint", "the checkpoint carries no signature by the log's key")


# ---- RFC 9162 §2.1 verification ---------------------------------------------------------------


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def verify_inclusion(index: int, size: int, leaf: bytes, path: list[bytes], root: bytes) -> bool:
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = _node(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = _node(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


def verify_consistency(first: int, second: int, first_root: bytes, second_root: bytes, proof: list[bytes]) -> bool:
    if first < 0 or first > second:
        return False
    if first == second:
        return not proof and first_root == second_root
    if first == 0:
        return not proof and first_root == hashlib.sha256(b"").digest()
    if not proof:
        return False
    if first & (first - 1) == 0:
        proof = [first_root, *proof]
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = _node(c, fr), _node(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = _node(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return fr == first_root and sr == second_root and sn == 0


DECISIONS = {"grant": "consent.grant", "revocation": "consent.revoke"}


def verify_evidence(
    evidence: dict, verifier_key: str, *, consent_id: int | None = None, kind: str | None = None
) -> int:
    """Check a consent record's (or an export's) `transparency_log` object offline, with the log's verifier key
    alone: the checkpoint is signed by that key, and the inclusion proof leads from the event to its root.
    With `consent_id` and `kind` ("grant" or "revocation") the event must also be that decision of that consent.
    Returns the leaf index; raises LogError (bad_evidence, bad_checkpoint, another_event, inconsistent).
    """
    checkpoint = open_checkpoint(str(evidence.get("checkpoint", "")), VerifierKey.parse(verifier_key))
    try:
        body, index = evidence["event"], evidence["leaf_index"]
        proof = [base64.b64decode(h, validate=True) for h in evidence["inclusion_proof"]]
        event = json.loads(body)
    except (KeyError, TypeError, ValueError, binascii.Error) as exc:
        raise LogError("bad_evidence", "the evidence is not an event, a leaf index and a proof") from exc
    if type(index) is not int or not isinstance(body, str) or not isinstance(event, dict):
        raise LogError("bad_evidence", "the evidence is not an event, a leaf index and a proof")
    if consent_id is not None or kind is not None:
        expected = (DECISIONS.get(kind or ""), "consent.consent", str(consent_id))
        if (event.get("action"), event.get("target_type"), event.get("target_id")) != expected:
            raise LogError("another_event", f"the event is not the {kind} of consent {consent_id}")
    if not verify_inclusion(index, checkpoint.size, leaf_hash(body.encode()), proof, checkpoint.root_hash):
        raise LogError("inconsistent", "the inclusion proof does not lead to the signed root")
    return index


# ---- the witness --------------------------------------------------------------------------------


@dataclass(frozen=True)
class WitnessResult:
    size: int
    previous_size: int | None


class LogWitness:
    def __init__(self, base_url: str, verifier_key: str, state_path: str | os.PathLike, *, http=None):
        self.base_url = base_url.rstrip("/")
        self.key = VerifierKey.parse(verifier_key)
        self.state_path = Path(state_path)
        self._http = http or httpx.Client(timeout=10.0)

    def _get(self, path: str, **params) -> httpx.Response:
        return self._http.get(f"{self.base_url}/log/{path}", params=params or None)

    def kept(self) -> Checkpoint | None:
        if not self.state_path.exists():
            return None
        return open_checkpoint(json.loads(self.state_path.read_text())["checkpoint"], self.key)

    def check(self) -> WitnessResult:
        """Fetch the newest checkpoint, prove it extends the kept one, keep it. Raises LogError on misbehaviour."""
        response = self._get("checkpoint")
        if response.status_code != 200:
            raise LogError("bad_answer", f"GET /log/checkpoint answered {response.status_code}")
        new = open_checkpoint(response.text, self.key)
        old = self.kept()
        if old is not None:
            self._extends(old, new)
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"checkpoint": new.note}))
        tmp.replace(self.state_path)
        return WitnessResult(new.size, old.size if old else None)

    def _extends(self, old: Checkpoint, new: Checkpoint) -> None:
        if new.size < old.size:
            raise LogError("rewound", f"the log shrank from {old.size} to {new.size} entries")
        # Two signed trees of one size are proof of a fork in themselves: say so before anything else.
        if new.size == old.size and new.root_hash != old.root_hash:
            raise LogError("forked", f"two different trees of size {old.size} are signed")
        stored = self._get("checkpoint", size=old.size)
        if stored.status_code != 200 or stored.text != old.note:
            raise LogError("dropped_checkpoint", f"the log no longer serves the checkpoint of size {old.size}")
        if new.size == old.size:
            return
        answer = self._get("proof/consistency", first=old.size, second=new.size)
        try:
            proof = [base64.b64decode(h, validate=True) for h in answer.json()["hashes"]]
        except (ValueError, KeyError, TypeError, binascii.Error) as exc:
            raise LogError("bad_answer", "the consistency proof is not readable") from exc
        if not verify_consistency(old.size, new.size, old.root_hash, new.root_hash, proof):
            raise LogError("inconsistent", f"the tree of {new.size} entries does not extend the kept one of {old.size}")


def main(argv=None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 3:
        print("usage: python -m likeness_consent_client.witness BASE_URL VERIFIER_KEY STATE_FILE", file=sys.stderr)
        return 2
    try:
        result = LogWitness(*args).check()
    except LogError as exc:
        print(f"LOG MISBEHAVED: {exc}", file=sys.stderr)
        return 1
    print(f"ok: {result.size} entries" + (f" (extends {result.previous_size})" if result.previous_size else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
