"""The witness in clients/python against the real application (WSGI transport): it keeps a checkpoint and
catches a log that was rewritten, shortened, rewound, or that dropped the checkpoint it kept."""

import base64

import httpx
import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.utils import timezone
from likeness_consent_client import LogError, LogWitness, witness

from audit import keys, note
from audit.models import AuditCheckpoint, AuditEvent
from audit.services import checkpoint_link, log_integrate, tree_integrate, tree_root
from tests.audit.helpers import record, tamper

pytestmark = pytest.mark.django_db
BASE = "http://127.0.0.1:8000"


@pytest.fixture(autouse=True)
def _keep_the_test_transaction():
    """As Django's test client does: a request must not close the connection holding the test's transaction."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def watcher(tmp_path):
    """A witness that has seen the log at 8 entries."""
    events = record(8)
    log_integrate()
    watcher = LogWitness(BASE, keys.log_verifier_key(), tmp_path / "kept.json",
                         http=httpx.Client(transport=httpx.WSGITransport(app=WSGIHandler())))  # fmt: skip
    assert watcher.check().size == 8
    watcher.events = events
    return watcher


def rebuild_tree():
    """What an operator rewriting history must do: rebuild leaves and subtree hashes from the changed events."""
    tamper("DELETE FROM audit_auditleaf")
    tamper("DELETE FROM audit_auditnode")
    # The integrator takes events after last_seq, so start below the lowest one (a reorder may renumber them).
    tamper("UPDATE audit_audittree SET size = 0, last_seq = (SELECT COALESCE(MIN(seq), 1) - 1 FROM audit_auditevent)")


def test_the_witness_keeps_the_newest_checkpoint_and_accepts_a_log_that_only_grew(watcher):
    record(5)
    log_integrate()
    assert watcher.check().previous_size == 8
    assert watcher.kept().size == 13
    assert watcher.check().size == 13  # nothing new: the same checkpoint again


@pytest.mark.parametrize(
    "rewrite",
    [
        lambda events: tamper("UPDATE audit_auditevent SET action = 'forged' WHERE seq = %s", [events[2].seq]),
        lambda events: tamper("DELETE FROM audit_auditevent WHERE seq = %s", [events[3].seq]),
        lambda events: tamper(
            "UPDATE audit_auditevent SET seq = -seq WHERE seq IN (%s, %s)", [events[1].seq, events[2].seq]
        ),
    ],
    ids=["edited", "deleted", "reordered"],
)
def test_a_rewritten_history_re_signed_by_the_operator_fails_the_consistency_proof(watcher, rewrite):
    rewrite(watcher.events)
    rebuild_tree()
    record(2)
    log_integrate()  # the operator signs the rewritten tree with the real key
    with pytest.raises(LogError) as caught:
        watcher.check()
    assert caught.value.code == "inconsistent"
    assert watcher.kept().size == 8  # the bad checkpoint is not kept


def test_a_rewound_log_is_caught(watcher):
    record(4)
    log_integrate()
    watcher.check()  # kept: 12
    for event in AuditEvent.objects.order_by("-seq")[:4]:
        tamper("DELETE FROM audit_auditevent WHERE seq = %s", [event.seq])
    tamper('DELETE FROM audit_auditleaf WHERE "index" >= 8')
    tamper("UPDATE audit_audittree SET size = 8")
    tamper("DELETE FROM audit_auditcheckpoint WHERE size > 8")
    with pytest.raises(LogError) as caught:
        watcher.check()
    assert caught.value.code == "rewound"


def test_a_dropped_checkpoint_is_caught(watcher):
    record(1)
    log_integrate()
    tamper("DELETE FROM audit_auditcheckpoint WHERE size = 8")
    with pytest.raises(LogError) as caught:
        watcher.check()
    assert caught.value.code == "dropped_checkpoint"


def test_a_checkpoint_signed_by_another_key_is_refused(watcher, tmp_path):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from audit import note

    other = note.verifier_key(keys.log_origin(), Ed25519PrivateKey.generate().public_key())
    stranger = LogWitness(BASE, other, tmp_path / "other.json", http=watcher._http)
    with pytest.raises(LogError) as caught:
        stranger.check()
    assert caught.value.code == "bad_checkpoint"


def test_the_command_line_says_ok_or_misbehaved(watcher, monkeypatch, capsys):
    monkeypatch.setattr(witness, "LogWitness", lambda *args: watcher)
    assert witness.main([BASE, keys.log_verifier_key(), "x"]) == 0
    tamper("DELETE FROM audit_auditcheckpoint")
    assert witness.main([BASE, keys.log_verifier_key(), "x"]) == 1
    assert "LOG MISBEHAVED: bad_answer" in capsys.readouterr().err


def test_a_second_tree_of_the_same_size_signed_by_the_log_is_a_fork(watcher):
    """The operator rewrites an event and signs the rebuilt tree at the size the witness kept, while still serving
    the old checkpoint of that size: two different trees of one size, both signed with the real key."""
    tamper("UPDATE audit_auditevent SET action = 'forged' WHERE seq = %s", [watcher.events[2].seq])
    rebuild_tree()
    assert tree_integrate() == 8
    kept = AuditCheckpoint.objects.get()
    origin, root = keys.log_origin(), tree_root(8)
    assert root.hex() != kept.root_hash
    AuditCheckpoint.objects.create(
        number=2, size=8, root_hash=root.hex(), prev=checkpoint_link(kept), time=timezone.now(), chain_signature="",
        note=note.sign(note.Checkpoint(origin, 8, root).text(), origin, keys.platform_private_key()),
    )  # fmt: skip
    with pytest.raises(LogError) as caught:
        watcher.check()
    assert caught.value.code == "forked"
    assert watcher.kept().root_hash.hex() == kept.root_hash


def test_a_checkpoint_changed_under_the_logs_signature_line_is_refused(watcher):
    """The newest note names the log's key but its text (the root) was changed after signing."""
    record(2)
    newest = log_integrate()
    text, signatures = newest.note.split("\n\n")
    lines = text.split("\n")
    lines[2] = base64.b64encode(bytes(32)).decode()
    tamper("UPDATE audit_auditcheckpoint SET note = %s WHERE number = %s",
           ["\n".join(lines) + "\n\n" + signatures, newest.number])  # fmt: skip
    with pytest.raises(LogError) as caught:
        watcher.check()
    assert caught.value.code == "bad_checkpoint" and "does not verify" in str(caught.value)
    assert watcher.kept().size == 8
