"""Every way to rewrite history that the log must catch, each seen by `audit_verify`."""

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.management import CommandError, call_command
from django.utils import timezone

from audit import keys, merkle, note
from audit.canonical import canonical_json
from audit.models import AuditCheckpoint, AuditEvent, AuditLeaf, node_key
from audit.services import checkpoint_link, log_integrate
from tests.audit.helpers import latest_checkpoint, record, run_verify, tamper

pytestmark = pytest.mark.django_db


@pytest.fixture
def log():
    """Eight events, integrated and signed at sizes 4 and 8."""
    events = record(4)
    log_integrate()
    events += record(4)
    log_integrate()
    return events


def test_an_intact_log_verifies(log):
    code, output = run_verify()
    assert code == 0, output
    assert "8 events verified" in output


def test_an_edited_event_is_caught_naming_its_leaf(log):
    tamper("UPDATE audit_auditevent SET action = 'forged' WHERE seq = %s", [log[2].seq])
    code, output = run_verify()
    assert code == 1
    assert "leaf 2" in output and "content does not match its leaf hash" in output


def test_an_event_moved_to_another_organisation_is_caught(log):
    tamper("UPDATE audit_auditevent SET organization_id = 99 WHERE seq = %s", [log[5].seq])
    code, output = run_verify()
    assert code == 1 and "leaf 5" in output


def test_an_edited_event_with_its_leaf_rehashed_is_caught_by_the_signed_root(log):
    tamper("UPDATE audit_auditevent SET action = 'forged' WHERE seq = %s", [log[2].seq])
    forged = merkle.leaf_hash(AuditEvent.objects.get(seq=log[2].seq).leaf_body())
    tamper('UPDATE audit_auditnode SET hash = %s WHERE "key" = 2', [forged])
    code, output = run_verify()
    assert code == 1
    assert "checkpoint 1 (size 4)" in output  # the recomputed root is not the one signed


def test_a_rewritten_subtree_all_the_way_up_is_caught_by_the_signed_checkpoint(log):
    tamper("UPDATE audit_auditevent SET action = 'forged' WHERE seq = %s", [log[2].seq])
    leaves = [merkle.leaf_hash(AuditEvent.objects.get(seq=e.seq).leaf_body()) for e in log]
    frontier = merkle.Frontier()
    for leaf in leaves:
        for (level, index), value in frontier.append(leaf):
            tamper('UPDATE audit_auditnode SET hash = %s WHERE "key" = %s', [value, node_key(level, index)])
    code, output = run_verify()
    assert code == 1
    assert "checkpoint 1 (size 4)" in output and "differs from the signed checkpoint" in output


def test_a_deleted_event_is_caught(log):
    tamper("DELETE FROM audit_auditevent WHERE seq = %s", [log[3].seq])
    code, output = run_verify()
    assert code == 1
    assert "leaf 3" in output and "event deleted" in output


def test_a_deleted_event_with_its_leaf_is_caught(log):
    tamper("DELETE FROM audit_auditevent WHERE seq = %s", [log[3].seq])
    tamper('DELETE FROM audit_auditleaf WHERE "index" = 3')
    code, output = run_verify()
    assert code == 1
    assert "leaf missing" in output


def test_two_events_swapped_in_the_tree_are_caught(log):
    a, b = log[1].seq, log[2].seq
    tamper('UPDATE audit_auditleaf SET seq = -1 WHERE "index" = 1')
    tamper('UPDATE audit_auditleaf SET seq = %s WHERE "index" = 2', [a])
    tamper('UPDATE audit_auditleaf SET seq = %s WHERE "index" = 1', [b])
    code, output = run_verify()
    assert code == 1
    assert "leaf 1" in output and "content does not match" in output


def test_two_events_swapped_by_content_are_caught(log):
    first, second = AuditEvent.objects.get(seq=log[1].seq), AuditEvent.objects.get(seq=log[2].seq)
    tamper("UPDATE audit_auditevent SET data = %s WHERE seq = %s", ['{"i": 2}', first.seq])
    tamper("UPDATE audit_auditevent SET data = %s WHERE seq = %s", ['{"i": 1}', second.seq])
    assert run_verify()[0] == 1


def test_an_event_never_folded_into_the_tree_is_caught(log, settings):
    tamper("DELETE FROM audit_auditleaf WHERE seq = %s", [log[7].seq])
    tamper('DELETE FROM audit_auditnode WHERE "key" = 7')
    tamper("UPDATE audit_audittree SET size = 7")
    tamper("DELETE FROM audit_auditcheckpoint WHERE number = 2")
    tamper("UPDATE audit_auditevent SET time = '2020-01-01' WHERE seq = %s", [log[7].seq])  # long past the window
    code, output = run_verify("--no-integrate")
    assert code == 1
    assert f"event seq {log[7].seq}" in output and "not in the tree" in output


def rewind_to(size: int, events):
    """Delete every leaf from `size` on, with its events and subtree hashes, and set the tree back."""
    gone = [e.seq for e in events[size:]]
    for seq in gone:
        tamper("DELETE FROM audit_auditevent WHERE seq = %s", [seq])
    tamper('DELETE FROM audit_auditleaf WHERE "index" >= %s', [size])
    tamper("UPDATE audit_audittree SET size = %s, last_seq = %s", [size, events[size - 1].seq])


def test_a_rewind_of_the_newest_events_is_caught_by_the_newest_checkpoint(log):
    rewind_to(6, log)
    code, output = run_verify()
    assert code == 1
    assert "the log was cut" in output and "8 leaves" in output


def test_a_rewind_that_also_drops_the_newest_checkpoint_is_caught_only_by_a_kept_checkpoint(log, tmp_path):
    kept = tmp_path / "checkpoint.txt"
    kept.write_text(latest_checkpoint())  # an auditor's copy: size 8
    assert run_verify("--checkpoint", str(kept))[0] == 0
    rewind_to(4, log)
    tamper("DELETE FROM audit_auditcheckpoint WHERE number = 2")
    assert run_verify()[0] == 0  # consistent on its own: this is what only an outside copy can catch
    code, output = run_verify("--checkpoint", str(kept))
    assert code == 1
    assert "the auditor's checkpoint is gone" in output and "size 8" in output


def test_a_dropped_checkpoint_in_the_middle_is_a_gap(log):
    record(1)
    log_integrate()
    tamper("DELETE FROM audit_auditcheckpoint WHERE number = 2")
    code, output = run_verify()
    assert code == 1
    assert "checkpoint missing" in output and "checkpoint 2" in output


def test_renumbered_checkpoints_no_longer_verify(log):
    record(1)
    log_integrate()
    tamper("DELETE FROM audit_auditcheckpoint WHERE number = 2")
    tamper("UPDATE audit_auditcheckpoint SET number = 2 WHERE number = 3")
    code, output = run_verify()
    assert code == 1
    assert "chain signature does not verify" in output


def test_a_checkpoint_note_swapped_for_another_is_caught(log):
    tamper("UPDATE audit_auditcheckpoint SET note = (SELECT note FROM audit_auditcheckpoint WHERE number = 2)"
           " WHERE number = 1")  # fmt: skip
    assert run_verify()[0] == 1


def test_a_rebuilt_log_does_not_hold_the_auditors_checkpoint(log):
    kept = latest_checkpoint()
    for table in ("audit_auditcheckpoint", "audit_auditleaf", "audit_auditnode", "audit_auditevent"):
        tamper(f"DELETE FROM {table}")  # noqa: S608
    tamper("UPDATE audit_audittree SET size = 0, last_seq = 0")
    record(8, rebuilt=True)
    log_integrate()
    code, output = run_verify("--checkpoint", kept)
    assert code == 1
    assert "differs from the stored one" in output


def test_a_forged_or_malformed_kept_checkpoint_is_refused_with_a_clear_error(log):
    kept = latest_checkpoint()
    with pytest.raises(CommandError, match="does not verify"):
        call_command("audit_verify", "--checkpoint", kept.replace("\n8\n", "\n9\n"))
    other = note.sign(note.checkpoint_parse(kept.split("\n\n")[0] + "\n").text(), keys.log_origin(),
                      Ed25519PrivateKey.generate())  # fmt: skip
    with pytest.raises(CommandError, match="no signature by the log's key"):
        call_command("audit_verify", "--checkpoint", other)
    with pytest.raises(CommandError, match="not a signed note"):
        call_command("audit_verify", "--checkpoint", "hello\nworld")
    with pytest.raises(CommandError, match="cannot read the checkpoint file"):
        call_command("audit_verify", "--checkpoint", "/nonexistent/checkpoint.txt")


def test_latest_checkpoint_command_explains_an_empty_log():
    with pytest.raises(CommandError, match="no checkpoint yet"):
        call_command("audit_checkpoint_latest")


def test_leaves_are_numbered_from_zero_without_gaps(log):
    assert list(AuditLeaf.objects.order_by("index").values_list("index", flat=True)) == list(range(8))


# ---- an operator who holds the signing key: the checkpoints' own chain still refuses a rewritten history ----


def resign(number: int):
    """Sign a checkpoint row's chain fields again with the platform key, as an operator with the key could."""
    checkpoint = AuditCheckpoint.objects.get(number=number)
    tamper("UPDATE audit_auditcheckpoint SET chain_signature = %s WHERE number = %s",
           [keys.sign(canonical_json(checkpoint.chain_fields())), number])  # fmt: skip


def test_a_dropped_checkpoint_renumbered_and_re_signed_no_longer_links(log):
    record(1)
    log_integrate()
    tamper("DELETE FROM audit_auditcheckpoint WHERE number = 2")
    tamper("UPDATE audit_auditcheckpoint SET number = 2 WHERE number = 3")
    resign(2)
    code, output = run_verify()
    assert code == 1
    assert "checkpoint 2 (size 9)" in output and "does not link to the one before" in output


def test_a_checkpoint_whose_note_signs_another_tree_than_its_row_is_caught(log):
    tamper("UPDATE audit_auditcheckpoint SET note = (SELECT note FROM audit_auditcheckpoint WHERE number = 2)"
           " WHERE number = 1")  # fmt: skip
    resign(1)
    code, output = run_verify()
    assert code == 1
    assert "checkpoint 1 (size 4)" in output and "its note signs another tree than its columns say" in output


def test_a_newer_checkpoint_of_a_smaller_tree_is_a_rewind(log):
    """A correctly signed checkpoint of the 4-leaf tree after the 8-leaf one: what a rewound log would publish."""
    first, newest = AuditCheckpoint.objects.get(number=1), AuditCheckpoint.objects.get(number=2)
    AuditCheckpoint.objects.create(
        number=3, size=4, root_hash=first.root_hash, note=first.note, prev=checkpoint_link(newest),
        time=timezone.now(), chain_signature="",
    )  # fmt: skip
    resign(3)
    code, output = run_verify()
    assert code == 1
    assert "checkpoint 3 (size 4)" in output and "the tree shrank" in output


def test_a_tree_row_that_disagrees_with_its_leaves_is_caught(log):
    tamper("UPDATE audit_audittree SET size = 7")
    code, output = run_verify("--no-integrate")
    assert code == 1
    assert "the tree's size does not match its leaves" in output


def test_dropping_only_the_newest_checkpoint_is_caught_by_the_auditors_copy(log, tmp_path):
    kept = tmp_path / "checkpoint.txt"
    kept.write_text(latest_checkpoint())
    tamper("DELETE FROM audit_auditcheckpoint WHERE number = 2")
    assert run_verify()[0] == 0  # the rest is consistent: the events are still there, under no signature
    code, output = run_verify("--checkpoint", str(kept))
    assert code == 1
    assert "the auditor's checkpoint is gone" in output
