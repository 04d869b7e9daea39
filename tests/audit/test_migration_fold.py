"""The migration from the hash chain: existing events are folded into the tree in order, a broken chain is refused."""

import hashlib
import importlib
import json
from datetime import UTC, datetime

import pytest

from audit import merkle
from audit.models import AuditEvent, AuditGap, AuditLeaf, AuditTree, leaf_body, node_key
from audit.services import log_integrate, tree_integrate, tree_root
from tests.audit.helpers import run_verify, tamper
from tests.conftest import migrate

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("latest_schema_afterwards")]

CHAIN = [("audit", "0003_checkpoint_chain_and_organization")]
TREE = [("audit", "0005_integration_gaps")]
fold = importlib.import_module("audit.migrations.0004_transparency_log")


def chain_events(apps, count: int, *, break_at: int | None = None, first: int = 1, prev: str = "0" * 64,
                 v1_below: int = 0, insert_order=None):  # fmt: skip
    """Events as the hash chain wrote them: hash version 1 (no organisation) below `v1_below`, version 2 from
    there on. `insert_order` saves them in another order than their seqs (the row ids then disagree with the
    chain's order, as after a restore or concurrent appends)."""
    Event = apps.get_model("audit", "AuditEvent")
    events = []
    for seq in range(first, first + count):
        version = 1 if seq < v1_below else 2
        event = Event(
            seq=seq, time=datetime(2026, 1, 1, 12, seq, tzinfo=UTC), actor_type="system", actor_label="alice",
            action=f"thing.{seq}", data={"i": seq, "名": "二"}, organization_id=7 if version == 2 else None,
            hash_version=version, prev_hash=prev,
        )  # fmt: skip
        fields = fold._chain_fields(event)
        event.hash = hashlib.sha256(json.dumps(fields, sort_keys=True, separators=(",", ":"),
                                               ensure_ascii=False).encode()).hexdigest()  # fmt: skip
        if seq == break_at:
            event.data = {"i": "forged"}
        events.append(event)
        prev = event.hash
    for position in insert_order or range(count):
        events[position].save()
    return events


def test_existing_events_are_folded_into_the_tree_in_seq_order_and_verify():
    apps = migrate(CHAIN)
    chain_events(apps, 5)
    migrate(TREE)
    assert list(AuditLeaf.objects.order_by("index").values_list("seq", flat=True)) == [1, 2, 3, 4, 5]
    assert AuditTree.objects.get().size == 5
    leaves = [merkle.leaf_hash(e.leaf_body()) for e in AuditEvent.objects.order_by("seq")]
    assert tree_root(5) == merkle.root(leaves)
    assert log_integrate().size == 5  # the first signed checkpoint covers the folded events
    code, output = run_verify()
    assert code == 0, output


@pytest.mark.slow  # a migration round trip (README: Writing tests)
def test_events_saved_out_of_order_of_both_hash_versions_are_folded_by_seq():
    apps = migrate(CHAIN)
    chain_events(apps, 6, v1_below=3, insert_order=[5, 2, 0, 4, 1, 3])
    migrate(TREE)
    assert list(AuditLeaf.objects.order_by("index").values_list("seq", flat=True)) == [1, 2, 3, 4, 5, 6]
    events = AuditEvent.objects.order_by("seq")
    assert [e.organization_id for e in events] == [None, None, 7, 7, 7, 7]
    assert tree_root(6) == merkle.root([merkle.leaf_hash(e.leaf_body()) for e in events])
    log_integrate()
    code, output = run_verify()
    assert code == 0, output
    for table in ("audit_auditcheckpoint", "audit_auditnode", "audit_auditleaf", "audit_audittree", "audit_auditevent"):
        tamper(f"DELETE FROM {table}")  # noqa: S608 (the next test starts from an empty log)


@pytest.mark.slow  # a migration round trip (README: Writing tests)
def test_a_chain_cut_by_an_earlier_purge_is_folded_from_its_anchor():
    """The chain's retention purge left an anchor checkpoint whose hash the first remaining event links to."""
    apps = migrate(CHAIN)
    anchor = "ab" * 32
    apps.get_model("audit", "AuditCheckpoint").objects.create(
        seq=10, cp_seq=1, hash=anchor, time=datetime(2026, 1, 1, tzinfo=UTC), reason="purge", key_id="k",
        signature="s", prev="0" * 64,
    )  # fmt: skip
    chain_events(apps, 3, first=11, prev=anchor)
    migrate(TREE)
    assert list(AuditLeaf.objects.order_by("index").values_list("index", "seq")) == [(0, 11), (1, 12), (2, 13)]
    log_integrate()
    code, output = run_verify()
    assert code == 0, output
    for table in ("audit_auditcheckpoint", "audit_auditnode", "audit_auditleaf", "audit_audittree", "audit_auditevent"):
        tamper(f"DELETE FROM {table}")  # noqa: S608 (the next test starts from an empty log)


def test_a_broken_chain_is_refused_not_laundered_into_a_fresh_tree():
    apps = migrate(CHAIN)
    chain_events(apps, 3, break_at=2)
    with pytest.raises(RuntimeError, match="broken at seq 2"):
        migrate(TREE)
    tamper("DELETE FROM audit_auditevent")  # so that the next test finds the schema at the newest migration


def test_a_gap_the_integrator_passed_before_the_gaps_were_recorded_is_still_watched():
    """Seq 2's transaction was still open when the integrator folded 1 and 3, before migration 0005."""
    apps = migrate([("audit", "0004_transparency_log")])
    Event, Leaf, Node, Tree = (
        apps.get_model("audit", n) for n in ("AuditEvent", "AuditLeaf", "AuditNode", "AuditTree")
    )
    now = datetime.now(UTC)
    hashes = []
    for index, seq in enumerate((1, 3)):
        event = Event.objects.create(seq=seq, time=now, actor_type="system", actor_label="alice", action="thing.create")
        body = leaf_body(seq, event.time, "system", "", "alice", "thing.create", "", "", {}, None)
        hashes.append(merkle.leaf_hash(body))
        Leaf.objects.create(index=index, seq=seq)
        Node.objects.create(key=node_key(0, index), hash=hashes[-1])
    Node.objects.create(key=node_key(1, 0), hash=merkle.node_hash(*hashes))
    Tree.objects.create(id=1, size=2, last_seq=3)
    migrate(TREE)
    assert list(AuditGap.objects.values_list("first", "last")) == [(2, 2)]
    tamper(
        "INSERT INTO audit_auditevent (seq, time, actor_type, actor_id, actor_label, action, target_type, target_id,"
        " data, organization_id) VALUES (2, %s, 'system', '', 'alice', 'thing.create', '', '', '{}', NULL)",
        [now],
    )  # ... and now it commits
    assert tree_integrate() == 1
    assert AuditLeaf.objects.get(index=2).seq == 2
    assert run_verify()[0] == 0
    for table in ("audit_auditgap", "audit_auditnode", "audit_auditleaf", "audit_audittree", "audit_auditevent"):
        tamper(f"DELETE FROM {table}")  # noqa: S608 (the next test starts from an empty log)
