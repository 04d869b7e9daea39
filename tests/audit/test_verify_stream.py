"""The streaming verifier and the fast leaf encoding against the simple definitions they replace: the
canonical JSON of a dict, RFC 9162's MTH over a list of leaves. Chunks are made tiny here so that a few
dozen events cross many chunk boundaries and the subtrees above the chunks."""

import json
import random
from datetime import UTC, datetime, timedelta

import pytest

from audit import merkle, verify
from audit.canonical import canonical_json
from audit.models import AuditEvent, AuditGap, AuditLeaf, AuditTree, leaf_body, node_key
from audit.services import LATE_WINDOW, checkpoint_create, tree_integrate
from tests.audit.helpers import record, run_verify, tamper

TEXTS = ["", "a", "张三", 'quote " back \\ slash', "tab\tnew\nline", "\x00\x1f\u2028", "😀 emoji", "é"]


def reference_body(seq, time, actor_type, actor_id, actor_label, action, target_type, target_id, data, org):
    return canonical_json(
        {"seq": seq, "time": time.isoformat(), "actor_type": actor_type, "actor_id": actor_id,
         "actor_label": actor_label, "action": action, "target_type": target_type, "target_id": target_id,
         "data": data, "organization_id": org}
    )  # fmt: skip


def random_event(rnd: random.Random) -> tuple:
    moment = timedelta(seconds=rnd.randrange(10**8), microseconds=rnd.choice([0, 1, 999_999]))
    time = datetime(2026, 1, 1, tzinfo=UTC) + moment
    values = [None, True, False, 0, -1, 2**70, rnd.choice(TEXTS), [1, {"b": "c", "a": []}]]
    data = {rnd.choice(TEXTS) + str(i): rnd.choice(values) for i in range(rnd.randrange(4))}
    return (
        rnd.randrange(1, 2**62), time, *(rnd.choice(TEXTS) for _ in range(6)), data,
        rnd.choice([None, 0, 7, 2**40]),
    )  # fmt: skip


def test_the_fast_leaf_body_is_byte_for_byte_the_canonical_json_of_the_event():
    rnd = random.Random(19)
    for _ in range(2000):
        event = random_event(rnd)
        assert leaf_body(*event) == reference_body(*event), event


def test_values_of_unexpected_types_take_the_general_path():
    time = datetime(2026, 1, 1, tzinfo=UTC)
    for event in [
        (True, time, "a", "b", "c", "d", "e", "f", {}, None),  # a bool where the seq is
        (1, time, "a", "b", "c", "d", "e", "f", {}, False),
        (1, time, None, "b", "c", "d", "e", "f", {}, None),
    ]:
        assert leaf_body(*event) == reference_body(*event)
    assert json.loads(leaf_body(1, time, None, "", "", "", "", "", {}, None))["actor_type"] is None


@pytest.fixture
def tiny_chunks(monkeypatch):
    """Four leaves per chunk: 30 events make 8 chunks and three levels of subtrees above them."""
    monkeypatch.setattr(verify, "CHUNK_LEVEL", 2)
    monkeypatch.setattr(verify, "CHUNK", 4)


@pytest.mark.parametrize("size", [1, 3, 4, 5, 8, 13, 16, 17, 31, 64])
def test_the_chunked_tree_gives_the_rfc_root_at_every_size_and_every_subtree(tiny_chunks, size):
    rnd = random.Random(size)
    leaves = [rnd.randbytes(32) for _ in range(size)]
    tree = verify._Tree()
    for start in range(0, size, verify.CHUNK):
        tree.add_chunk(leaves[start : start + verify.CHUNK])
        for end in range(start + 1, min(start + verify.CHUNK, size) + 1):
            assert tree.root(end) == merkle.root(leaves[:end])
        for level, level_hashes in enumerate(tree.levels):
            for offset, value in enumerate(level_hashes):
                first = start + (offset << level)
                assert value == merkle.root(leaves[first : first + (1 << level)])
    for level, index, value in tree.completed_upper:
        assert value == merkle.root(leaves[index << level : (index + 1) << level])
    assert len(tree.completed_upper) == sum(size >> level for level in range(3, size.bit_length()))


@pytest.fixture
def long_log(tiny_chunks):
    """30 events over 8 chunks, checkpoints at sizes that fall inside chunks and on their edges."""
    events = []
    for count in (3, 5, 8, 1, 13):
        events += record(count)
        tree_integrate()
        checkpoint_create()
    return events


@pytest.mark.django_db
def test_a_long_intact_log_verifies_across_chunks(long_log):
    code, output = run_verify()
    assert code == 0, output
    assert "30 events verified" in output


@pytest.mark.django_db
@pytest.mark.parametrize("index", [0, 5, 17, 29])
def test_an_edited_event_in_any_chunk_is_named(long_log, index):
    tamper("UPDATE audit_auditevent SET action = 'forged' WHERE seq = %s", [long_log[index].seq])
    code, output = run_verify()
    assert code == 1
    assert f"leaf {index} " in output and "content does not match its leaf hash" in output


@pytest.mark.django_db
@pytest.mark.parametrize(("level", "index"), [(1, 9), (2, 3), (3, 1), (4, 0)])
def test_a_stored_subtree_hash_inside_or_above_the_chunks_that_differs_is_named(long_log, level, index):
    # Levels 1 and 2 lie inside a chunk of four leaves, 3 and 4 above the chunks.
    tamper('UPDATE audit_auditnode SET hash = %s WHERE "key" = %s', [b"\x00" * 32, node_key(level, index)])
    code, output = run_verify()
    assert code == 1
    assert f"subtree {level}/{index}" in output and "differs from the events" in output


@pytest.mark.django_db
@pytest.mark.parametrize(("level", "index"), [(0, 6), (1, 2), (3, 0)])
def test_a_missing_stored_hash_is_caught(long_log, level, index):
    tamper('DELETE FROM audit_auditnode WHERE "key" = %s', [node_key(level, index)])
    code, output = run_verify()
    assert code == 1
    assert f"leaf {index} " in output if level == 0 else f"subtree {level}/{index}" in output


@pytest.mark.django_db
def test_a_checkpoint_signed_inside_a_chunk_is_checked_against_the_recomputed_root(long_log):
    # Size 3 ends inside the first chunk; a leaf rewritten with its leaf hash leaves only the signed root.
    event = AuditEvent.objects.get(seq=long_log[1].seq)
    tamper("UPDATE audit_auditevent SET action = 'forged' WHERE seq = %s", [event.seq])
    forged = merkle.leaf_hash(AuditEvent.objects.get(seq=event.seq).leaf_body())
    tamper('UPDATE audit_auditnode SET hash = %s WHERE "key" = 1', [forged])
    code, output = run_verify()
    assert code == 1
    assert "checkpoint 1 (size 3)" in output and "differs from the signed checkpoint" in output


@pytest.mark.django_db
def test_a_leaf_missing_in_a_later_chunk_is_caught(long_log):
    tamper("DELETE FROM audit_auditevent WHERE seq = %s", [long_log[21].seq])
    tamper('DELETE FROM audit_auditleaf WHERE "index" = 21')
    code, output = run_verify()
    assert code == 1
    assert "leaf 21" in output and "leaf missing" in output


# ---- the integrator's gaps ----------------------------------------------------------------------


@pytest.mark.django_db
def test_a_jump_in_the_sequence_is_one_gap_not_one_row_per_number():
    first = record(1)[0]
    tamper(
        "INSERT INTO audit_auditevent (seq, time, actor_type, actor_id, actor_label, action, target_type, target_id,"
        " data, organization_id) VALUES (%s, %s, 'system', '', 'alice', 'thing.create', '', '', '{}', NULL)",
        [first.seq + 10**9, first.time],
    )
    assert tree_integrate() == 2
    gaps = AuditGap.objects.filter(first__gt=first.seq).values_list("first", "last")
    assert list(gaps) == [(first.seq + 1, first.seq + 10**9 - 1)]


@pytest.mark.django_db
def test_a_gap_is_forgotten_after_the_late_window_and_its_event_is_then_an_audit_finding(time_machine):
    _, middle, _ = record(3)
    late = AuditEvent.objects.get(seq=middle.seq)
    tamper("DELETE FROM audit_auditevent WHERE seq = %s", [late.seq])  # still in its transaction
    assert tree_integrate() == 2
    assert AuditGap.objects.filter(first__lte=late.seq, last__gte=late.seq).exists()
    time_machine.move_to(datetime.now(UTC) + LATE_WINDOW + timedelta(minutes=1))
    tamper(
        "INSERT INTO audit_auditevent (seq, time, actor_type, actor_id, actor_label, action, target_type, target_id,"
        " data, organization_id) VALUES (%s, %s, 'system', '', 'alice', 'thing.create', '', '', '{}', NULL)",
        [late.seq, late.time],
    )  # commits long after its number was passed
    assert tree_integrate() == 0
    assert not AuditGap.objects.exists()
    assert not AuditLeaf.objects.filter(seq=late.seq).exists()
    code, output = run_verify("--no-integrate")
    assert code == 1
    assert f"event seq {late.seq}" in output and "not in the tree" in output
    assert AuditTree.objects.get().size == 2


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_the_verifier_reads_ahead_in_its_own_snapshot_and_still_catches_an_edit():
    # On PostgreSQL the command's verifier reads chunks on a second connection in the same snapshot.
    events = record(5)
    tree_integrate()
    checkpoint_create()
    assert verify.log_verify().checked == 5
    tamper("UPDATE audit_auditevent SET action = 'forged' WHERE seq = %s", [events[3].seq])
    result = verify.log_verify()
    assert not result.ok
    assert result.where.startswith("leaf 3 ") and result.problem == "content does not match its leaf hash"


@pytest.mark.django_db
def test_late_events_in_many_gaps_are_all_folded_in_seq_order(monkeypatch):
    monkeypatch.setattr("audit.services.GAPS_PER_QUERY", 2)  # three gaps: two queries
    events = record(7)
    late = [AuditEvent.objects.get(seq=events[i].seq) for i in (1, 3, 5)]
    for event in late:
        tamper("DELETE FROM audit_auditevent WHERE seq = %s", [event.seq])  # still in their transactions
    assert tree_integrate() == 4
    for event in reversed(late):  # they commit, in any order
        tamper(
            "INSERT INTO audit_auditevent (seq, time, actor_type, actor_id, actor_label, action, target_type,"
            " target_id, data, organization_id) VALUES (%s, %s, 'system', '', 'alice', 'thing.create', '', '',"
            " '{}', NULL)",
            [event.seq, event.time],
        )
    assert tree_integrate() == 3
    assert list(AuditLeaf.objects.filter(index__gte=4).order_by("index").values_list("seq", flat=True)) == [
        event.seq for event in late
    ]
    assert run_verify()[0] == 0
