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


def chain_events(apps, count: int, *, break_at: int | None = None):
    """Events as the hash chain wrote them (hash version 2)."""
    Event = apps.get_model("audit", "AuditEvent")
    prev = "0" * 64
    for seq in range(1, count + 1):
        event = Event(
            seq=seq, time=datetime(2026, 1, 1, 12, seq, tzinfo=UTC), actor_type="system", actor_label="alice",
            action="thing.create", data={"i": seq, "名": "二"}, organization_id=7, hash_version=2, prev_hash=prev,
        )  # fmt: skip
        fields = fold._chain_fields(event)
        event.hash = hashlib.sha256(json.dumps(fields, sort_keys=True, separators=(",", ":"),
                                               ensure_ascii=False).encode()).hexdigest()  # fmt: skip
        if seq == break_at:
            event.data = {"i": "forged"}
        event.save()
        prev = event.hash


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
