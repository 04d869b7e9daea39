"""The log's checkpoints, key and proofs judged by Go's reference implementation of C2SP signed notes and RFC 9162
proofs (golang.org/x/mod/sumdb/note and sumdb/tlog, Debian's golang-golang-x-mod-dev): `tools/tlogcheck`.

Marked `conformance` (`make test-conformance` installs Go and the module source from Debian and runs them).
"""

import base64
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit import keys, note
from audit.services import event_evidence, log_integrate
from tests.audit.helpers import record, tamper

pytestmark = [pytest.mark.conformance, pytest.mark.django_db]

REPO = Path(__file__).resolve().parents[2]
GOPATH = Path("/usr/share/gocode")  # where Debian's golang-*-dev packages put Go sources


@pytest.fixture(scope="session")
def tlogcheck(tmp_path_factory) -> Path:
    if shutil.which("go") is None or not (GOPATH / "src/golang.org/x/mod/sumdb/note").is_dir():
        pytest.skip("needs Go and golang.org/x/mod: `make test-conformance` installs golang-go golang-golang-x-mod-dev")
    out = tmp_path_factory.mktemp("tlogcheck") / "tlogcheck"
    env = {**os.environ, "GO111MODULE": "off", "GOPATH": str(GOPATH), "GOFLAGS": "",
           "GOCACHE": str(out.parent / "cache")}  # fmt: skip
    subprocess.run(["go", "build", "-o", str(out), "."], cwd=REPO / "tools" / "tlogcheck", env=env, check=True)
    return out


def judge(tool: Path, **data) -> tuple[int, dict | str]:
    result = subprocess.run([str(tool)], input=json.dumps(data), capture_output=True, text=True, check=False)
    return result.returncode, json.loads(result.stdout) if result.returncode == 0 else result.stderr


@pytest.fixture
def log(client):
    """Five events signed, six more signed: what a witness fetches, over HTTP."""
    events = record(5)
    log_integrate()
    events += record(6)
    log_integrate()
    get = lambda path, **params: client.get(f"/log/{path}", params)  # noqa: E731
    return {
        "events": events,
        "vkey": get("key").content.decode(),
        "checkpoint": get("checkpoint").content.decode(),
        "older_checkpoint": get("checkpoint", size=5).content.decode(),
        "consistency_proof": get("proof/consistency", first=5, second=11).json()["hashes"],
        "inclusions": [
            {"index": i, "leaf_hash": answer["leaf_hash"], "proof": answer["hashes"]}
            for i in range(11)
            for answer in [get("proof/inclusion", index=i, size=11).json()]
        ],
    }


def test_gos_sumdb_note_and_tlog_accept_the_checkpoints_key_and_every_proof(tlogcheck, log):
    code, found = judge(tlogcheck, **{k: v for k, v in log.items() if k != "events"})
    assert code == 0, found
    assert found["checkpoint"]["origin"] == keys.log_origin() and found["checkpoint"]["size"] == 11
    assert found["older_checkpoint"]["size"] == 5 and found["consistent"] is True
    assert found["included"] == list(range(11))
    verifier = note.verifier_parse(log["vkey"])
    assert found["signers"] == [f"{verifier.name}+{verifier.key_hash.hex()}"]


def test_go_accepts_a_records_evidence_from_the_event_text_itself(tlogcheck, log):
    evidence = event_evidence(seq=log["events"][3].seq)
    inclusion = {"index": evidence["leaf_index"], "record": evidence["event"], "proof": evidence["inclusion_proof"]}
    code, found = judge(tlogcheck, vkey=log["vkey"], checkpoint=evidence["checkpoint"], inclusions=[inclusion])
    assert code == 0, found
    assert found["included"] == [3] and found["checkpoint"]["size"] == 5


def test_go_refuses_what_it_should(tlogcheck, log):
    """So that its yes means something: a changed note, another key, a wrong origin, a bad proof, a fork."""
    data = {k: v for k, v in log.items() if k != "events"}
    changed = data["checkpoint"].replace("\n11\n", "\n12\n")
    assert judge(tlogcheck, **(data | {"checkpoint": changed}))[1].startswith("note:")
    stranger = note.verifier_key(keys.log_origin(), Ed25519PrivateKey.generate().public_key())
    assert judge(tlogcheck, **(data | {"vkey": stranger}))[1].startswith("note:")
    origin = keys.log_origin()
    elsewhere = note.sign(note.Checkpoint("elsewhere.example/log", 11, bytes(32)).text(), origin,
                          keys.platform_private_key())  # fmt: skip
    assert "origin" in judge(tlogcheck, **(data | {"checkpoint": elsewhere}))[1]
    wrong = [*data["inclusions"][4:5]]
    wrong[0] = wrong[0] | {"index": 5}
    assert "inclusion of leaf 5" in judge(tlogcheck, **(data | {"inclusions": wrong}))[1]
    flipped = base64.b64decode(data["consistency_proof"][0])
    proof = [base64.b64encode(bytes([flipped[0] ^ 1]) + flipped[1:]).decode(), *data["consistency_proof"][1:]]
    assert "consistency from 5 to 11" in judge(tlogcheck, **(data | {"consistency_proof": proof}))[1]


def test_go_catches_a_rewritten_history_re_signed_with_the_real_key(tlogcheck, log, client):
    """The operator edits event 2, rebuilds the tree and signs it: the consistency proof from the kept checkpoint
    of size 5 (which the log still serves) no longer holds for Go either."""
    tamper("UPDATE audit_auditevent SET action = 'forged' WHERE seq = %s", [log["events"][2].seq])
    tamper("DELETE FROM audit_auditleaf")
    tamper("DELETE FROM audit_auditnode")
    tamper("UPDATE audit_audittree SET size = 0, last_seq = %s", [log["events"][0].seq - 1])
    record(1)
    log_integrate()
    newest = client.get("/log/checkpoint").content.decode()
    proof = client.get("/log/proof/consistency", {"first": 5, "second": 12}).json()["hashes"]
    code, found = judge(tlogcheck, vkey=log["vkey"], checkpoint=newest, older_checkpoint=log["older_checkpoint"],
                        consistency_proof=proof)  # fmt: skip
    assert code == 1 and "consistency from 5 to 12" in found
