"""Appending, integrating, signing and purging the transparency log."""

import base64
import io
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

import audit
from audit import keys, merkle, note
from audit.canonical import canonical_json
from audit.models import AppendOnlyError, AuditCheckpoint, AuditEvent, AuditLeaf, AuditTree
from audit.services import (
    PurgeRefused,
    checkpoint_create,
    event_evidence,
    events_purge,
    log_integrate,
    tree_integrate,
    tree_root,
)
from audit.tasks import audit_integrate_task
from consent.management.commands import run_schedule
from tests.audit.helpers import record, run_verify, tamper
from tests.conftest import REPO, subprocess_env

pytestmark = pytest.mark.django_db


def verifier() -> note.Verifier:
    return note.verifier_parse(keys.log_verifier_key())


def test_an_append_writes_one_event_row_and_locks_nothing():
    first = audit.record("alice", "thing.create", None, {"n": 1})
    with CaptureQueriesContext(connection) as queries:
        second = audit.record("alice", "thing.update", None, {"n": 2})
    assert second.seq > first.seq
    sql = [q["sql"].upper().replace('"', "") for q in queries.captured_queries]
    assert not [s for s in sql if "FOR UPDATE" in s]
    assert [s.split("(")[0].strip() for s in sql if s.startswith(("INSERT", "UPDATE", "DELETE"))] == [
        "INSERT INTO AUDIT_AUDITEVENT"
    ]
    assert AuditTree.objects.get().size == 0 and not AuditLeaf.objects.exists()  # the integrator's work, later


def test_the_leaf_is_the_canonical_json_of_the_event():
    event = audit.record("alice", "thing.create", None, {"b": "二", "a": 1}, organization=3)
    body = AuditEvent.objects.get(pk=event.pk).leaf_body()
    assert body.startswith(b'{"action":"thing.create","actor_id":"","actor_label":"alice"')
    assert b'"organization_id":3' in body and "二".encode() in body  # UTF-8, not \u escapes
    assert b'"seq":%d' % event.seq in body


def test_a_float_is_refused_when_recorded_not_later_when_hashed():
    with pytest.raises(TypeError, match="floats are not allowed"):
        audit.record("alice", "thing.create", None, {"x": 1.5})
    assert not AuditEvent.objects.exists()


def test_rolled_back_transaction_leaves_no_event_and_the_tree_skips_its_number():
    audit.record("alice", "kept", None, {})
    with pytest.raises(RuntimeError), transaction.atomic():
        audit.record("alice", "rolled.back", None, {})
        raise RuntimeError("the change failed")
    audit.record("alice", "next", None, {})
    assert tree_integrate() == 2
    assert list(AuditEvent.objects.values_list("action", flat=True)) == ["kept", "next"]
    assert list(AuditLeaf.objects.order_by("index").values_list("index", flat=True)) == [0, 1]
    assert run_verify()[0] == 0


def test_existing_event_cannot_be_saved_updated_or_deleted_through_the_orm():
    event = audit.record("alice", "thing.create", None, {})
    event.action = "something.else"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).update(action="x")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.get().action == "thing.create"


def test_the_integrator_folds_events_in_seq_order_and_the_root_is_the_rfc_root_of_their_leaves():
    events = record(11)
    assert tree_integrate() == 11
    assert tree_integrate() == 0  # idempotent
    leaves = [merkle.leaf_hash(AuditEvent.objects.get(seq=e.seq).leaf_body()) for e in events]
    assert list(AuditLeaf.objects.order_by("index").values_list("seq", flat=True)) == [e.seq for e in events]
    assert tree_root(11) == merkle.root(leaves)
    assert tree_root(6) == merkle.root(leaves[:6])


def test_an_event_committed_late_with_a_lower_seq_still_gets_a_leaf():
    _, middle, _ = record(3)
    late = AuditEvent.objects.get(seq=middle.seq)
    tamper("DELETE FROM audit_auditevent WHERE seq = %s", [late.seq])  # not visible yet: still in its transaction
    assert tree_integrate() == 2
    tamper(
        "INSERT INTO audit_auditevent (seq, time, actor_type, actor_id, actor_label, action, target_type, target_id,"
        " data, organization_id) VALUES (%s, %s, 'system', '', 'alice', 'thing.create', '', '', %s, NULL)",
        [late.seq, late.time, '{"i": 1}'],
    )  # ... and now it commits
    assert tree_integrate() == 1
    assert AuditLeaf.objects.get(seq=late.seq).index == 2
    assert run_verify()[0] == 0


def test_the_beat_task_integrates_and_signs_a_checkpoint_only_when_the_tree_grew():
    assert audit_integrate_task() is None  # empty log: nothing to sign
    record(3)
    assert audit_integrate_task() == 3
    audit_integrate_task()
    assert AuditCheckpoint.objects.count() == 1
    record(1)
    assert audit_integrate_task() == 4
    assert list(AuditCheckpoint.objects.values_list("number", "size")) == [(1, 3), (2, 4)]


def test_a_checkpoint_is_signed_within_a_minute_of_every_append_by_beat_and_by_run_schedule(settings):
    """Beat's schedule (which `run_schedule` follows in development) integrates and signs at least every minute;
    in simulated seconds, each event appended is covered by a signed checkpoint no more than 60 s later."""
    schedule = {
        name: entry
        for name, entry in settings.CELERY_BEAT_SCHEDULE.items()
        if entry["task"] == "audit.tasks.audit_integrate_task"
    }
    assert len(schedule) == 1
    assert next(iter(schedule.values()))["schedule"] <= timedelta(minutes=1)
    appended_at, signed_at, last_run = {}, {}, {}
    for second in range(241):
        if second in (5, 50, 95, 170, 171):
            appended_at[record(1)[0].seq] = second
        for name in run_schedule.due_tasks(schedule, last_run, float(second)):
            assert run_schedule.run_entry(name, schedule[name])
            last_run[name] = float(second)
        newest = AuditCheckpoint.objects.order_by("-number").values_list("size", flat=True).first() or 0
        for seq in AuditLeaf.objects.filter(index__lt=newest).values_list("seq", flat=True):
            signed_at.setdefault(seq, second)
    assert set(signed_at) == set(appended_at)
    assert max(signed_at[seq] - appended_at[seq] for seq in appended_at) <= 60


def test_a_checkpoint_is_a_c2sp_signed_note_over_origin_size_and_root(settings):
    settings.AUDIT_LOG_ORIGIN = "consent.example/audit-log"
    record(5)
    checkpoint = log_integrate()
    text, _, signature = checkpoint.note.rpartition("\n\n")
    assert text.split("\n") == ["consent.example/audit-log", "5", base64.b64encode(tree_root(5)).decode()]
    assert signature.startswith("\u2014 consent.example/audit-log ")
    opened = note.checkpoint_open(checkpoint.note, verifier())
    assert (opened.size, opened.root_hash.hex()) == (5, checkpoint.root_hash)


def test_the_published_key_commands_print_the_key_that_opens_checkpoints():
    record(1)
    checkpoint = log_integrate()
    out = io.StringIO()
    call_command("audit_public_key", stdout=out)
    vkey, _, pem = out.getvalue().partition("\n")
    assert note.checkpoint_open(checkpoint.note, note.verifier_parse(vkey)).size == 1
    public = load_pem_public_key(pem.split("\n", 1)[1].encode())
    assert note.verifier_key(keys.log_origin(), public) == vkey


def test_evidence_integrates_and_signs_on_demand_and_its_proof_verifies_offline():
    events = record(6)
    evidence = event_evidence(seq=events[3].seq)
    assert AuditCheckpoint.objects.count() == 1
    checkpoint = note.checkpoint_open(evidence["checkpoint"], note.verifier_parse(evidence["log_key"]))
    leaf = merkle.leaf_hash(evidence["event"].encode())
    proof = [base64.b64decode(h) for h in evidence["inclusion_proof"]]
    assert evidence["leaf_index"] == 3 and checkpoint.size == 6
    assert merkle.verify_inclusion(3, checkpoint.size, leaf, proof, checkpoint.root_hash)
    assert event_evidence(seq=events[0].seq)["checkpoint"] == evidence["checkpoint"]  # the first that covers it


def test_purge_refuses_a_retention_below_180_days():
    audit.record("alice", "thing.create", None, {})
    with pytest.raises(PurgeRefused, match="minimum is 180 days"):
        events_purge(retention_days=179)
    assert AuditEvent.objects.count() == 1


def test_start_up_refuses_a_retention_below_180_days():
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=REPO,
        env=subprocess_env(AUDIT_RETENTION_DAYS="90", DJANGO_SETTINGS_MODULE="config.settings"),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "AUDIT_RETENTION_DAYS=90 is below the legal minimum of 180 days" in result.stderr


def test_purge_drops_old_bodies_keeps_the_tree_and_a_purged_leafs_proof_still_verifies():
    start = datetime(2025, 1, 1, tzinfo=UTC)
    with time_machine.travel(start, tick=False):
        old = record(4)
        evidence = event_evidence(seq=old[1].seq)
    with time_machine.travel(start + timedelta(days=400), tick=False):
        record(1)
        assert events_purge(retention_days=365) == 4
    assert list(AuditEvent.objects.values_list("action", flat=True)) == ["thing.create", "audit.purge"]
    assert AuditLeaf.objects.count() == 6
    purge = AuditEvent.objects.get(action="audit.purge")
    assert purge.data["purged_through_leaf"] == 3
    code, output = run_verify()
    assert code == 0, output
    # The record made before the purge still proves its event, against a checkpoint that still verifies.
    checkpoint = note.checkpoint_open(evidence["checkpoint"], verifier())
    proof = [base64.b64decode(h) for h in evidence["inclusion_proof"]]
    assert merkle.verify_inclusion(1, checkpoint.size, merkle.leaf_hash(evidence["event"].encode()), proof,
                                   checkpoint.root_hash)  # fmt: skip
    assert AuditCheckpoint.objects.filter(size=checkpoint.size, note=evidence["checkpoint"]).exists()


def test_after_a_purge_the_purged_leafs_proof_to_the_newest_checkpoint_and_the_consistency_proof_still_verify(client):
    start = datetime(2025, 1, 1, tzinfo=UTC)
    with time_machine.travel(start, tick=False):
        old = record(4)
        evidence = event_evidence(seq=old[1].seq)  # what a record made then carries
    before = note.checkpoint_open(evidence["checkpoint"], verifier())
    with time_machine.travel(start + timedelta(days=400), tick=False):
        record(3)
        assert events_purge(retention_days=365) == 4
    assert not AuditEvent.objects.filter(seq=old[1].seq).exists()
    newest = note.checkpoint_open(client.get("/log/checkpoint").content.decode(), verifier())
    assert newest.size == 8  # 4 purged + 3 kept + the purge event
    answer = client.get("/log/proof/inclusion", {"index": 1, "size": newest.size}).json()
    leaf = merkle.leaf_hash(evidence["event"].encode())
    assert base64.b64decode(answer["leaf_hash"]) == leaf and answer["event_seq"] == old[1].seq
    proof = [base64.b64decode(h) for h in answer["hashes"]]
    assert merkle.verify_inclusion(1, newest.size, leaf, proof, newest.root_hash)
    answer = client.get("/log/proof/consistency", {"first": before.size, "second": newest.size}).json()
    proof = [base64.b64decode(h) for h in answer["hashes"]]
    assert merkle.verify_consistency(before.size, newest.size, before.root_hash, newest.root_hash, proof)
    # Asked again after the purge, the evidence still names the leaf and its checkpoint; the body is gone.
    again = event_evidence(seq=old[1].seq)
    assert (again["leaf_index"], again["event"], again["checkpoint"]) == (1, None, evidence["checkpoint"])
    assert again["inclusion_proof"] == evidence["inclusion_proof"]


def test_purge_folds_events_not_yet_in_the_tree_before_it_drops_their_bodies():
    start = datetime(2025, 1, 1, tzinfo=UTC)
    with time_machine.travel(start, tick=False):
        old = record(3)
    assert AuditTree.objects.get().size == 0  # never integrated: beat had not run
    with time_machine.travel(start + timedelta(days=400), tick=False):
        record(1)
        assert events_purge(retention_days=365) == 3
    assert list(AuditLeaf.objects.order_by("index").values_list("seq", flat=True))[:3] == [e.seq for e in old]
    code, output = run_verify()
    assert code == 0, output


def test_a_deleted_body_above_the_purge_horizon_is_tampering():
    start = datetime(2025, 1, 1, tzinfo=UTC)
    with time_machine.travel(start, tick=False):
        record(2)
    with time_machine.travel(start + timedelta(days=400), tick=False):
        kept = record(2)
        events_purge(retention_days=365)
    tamper("DELETE FROM audit_auditevent WHERE seq = %s", [kept[0].seq])
    code, output = run_verify()
    assert code == 1
    assert "leaf 2" in output and "event deleted" in output


@pytest.mark.realstack
def test_postgres_trigger_rejects_update_and_delete_outside_the_purge():
    from django.db import DatabaseError

    audit.record("alice", "thing.create", None, {})
    for sql in ("UPDATE audit_auditevent SET action = 'x'", "DELETE FROM audit_auditevent"):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as c:
            c.execute(sql)
    assert AuditEvent.objects.get().action == "thing.create"


def test_checkpoint_chain_signature_covers_number_size_root_note_and_link():
    record(2)
    first = log_integrate()
    record(1)
    second = log_integrate()
    assert second.prev == __import__("hashlib").sha256(first.note.encode()).hexdigest()
    assert keys.verify(canonical_json(second.chain_fields()), second.chain_signature)
    assert checkpoint_create().pk == second.pk
