import io
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from django.core.management import call_command
from django.db import connection, transaction

import audit
from audit import keys
from audit.canonical import canonical_json, sha256_hex
from audit.models import GENESIS_HASH, AppendOnlyError, AuditCheckpoint, AuditEvent
from audit.services import PurgeRefused, checkpoint_create, events_purge
from tests.conftest import REPO, subprocess_env

pytestmark = pytest.mark.django_db


def run_verify() -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("audit_verify", stdout=out, stderr=err)
    except SystemExit as exc:
        return exc.code, out.getvalue() + err.getvalue()
    return 0, out.getvalue() + err.getvalue()


def tamper(sql: str, params=()):
    """Change rows behind the ORM's back, as an attacker with database access would."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = replica")  # bypass the trigger
        cursor.execute(sql, params)
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = origin")


def test_events_form_a_hash_chain():
    first = audit.record("alice", "thing.create", None, {"n": 1})
    second = audit.record("alice", "thing.update", None, {"n": 2})
    assert (first.seq, second.seq) == (1, 2)
    assert first.prev_hash == GENESIS_HASH
    assert second.prev_hash == first.hash
    stored = AuditEvent.objects.get(seq=2)
    assert stored.hash == sha256_hex(stored.hashed_fields())


def test_hash_covers_canonical_json_of_fields_and_prev_hash():
    event = audit.record("alice", "thing.create", None, {"b": "二", "a": 1})
    fields = AuditEvent.objects.get(pk=event.pk).hashed_fields()
    assert fields["prev_hash"] == GENESIS_HASH
    assert canonical_json(fields).startswith(b'{"action":"thing.create","actor_id":""')
    assert "二".encode() in canonical_json(fields)  # UTF-8, not \u escapes


def test_rolled_back_transaction_leaves_no_event():
    audit.record("alice", "kept", None, {})
    with pytest.raises(RuntimeError), transaction.atomic():
        audit.record("alice", "rolled.back", None, {})
        raise RuntimeError("the change failed")
    assert list(AuditEvent.objects.values_list("action", flat=True)) == ["kept"]
    nxt = audit.record("alice", "next", None, {})
    assert nxt.seq == 2  # gapless: the rolled-back seq is reused
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


def test_audit_verify_passes_on_an_intact_chain():
    for i in range(5):
        audit.record("alice", "thing.create", None, {"i": i})
    code, output = run_verify()
    assert code == 0
    assert "5 events verified" in output


def test_modified_row_makes_audit_verify_exit_1_naming_the_seq():
    for i in range(5):
        audit.record("alice", "thing.create", None, {"i": i})
    tamper("UPDATE audit_auditevent SET action = 'forged' WHERE seq = 3")
    code, output = run_verify()
    assert code == 1
    assert "seq 3" in output
    assert "content does not match its hash" in output


def test_deleted_row_makes_audit_verify_exit_1_naming_the_seq():
    for i in range(5):
        audit.record("alice", "thing.create", None, {"i": i})
    tamper("DELETE FROM audit_auditevent WHERE seq = 4")
    code, output = run_verify()
    assert code == 1
    assert "seq 4" in output


def test_deleted_last_row_is_detected_through_the_head():
    for i in range(3):
        audit.record("alice", "thing.create", None, {"i": i})
    tamper("DELETE FROM audit_auditevent WHERE seq = 3")
    code, output = run_verify()
    assert code == 1
    assert "seq 3" in output


def test_rehashed_forgery_is_caught_by_the_next_link():
    for i in range(3):
        audit.record("alice", "thing.create", None, {"i": i})
    event = AuditEvent.objects.get(seq=2)
    event.action = "forged"
    forged_hash = sha256_hex(event.hashed_fields())
    tamper("UPDATE audit_auditevent SET action = 'forged', hash = %s WHERE seq = 2", [forged_hash])
    code, output = run_verify()
    assert code == 1
    assert "seq 3" in output and "prev_hash" in output


def test_checkpoint_every_n_events_is_verifiable_with_the_public_key_alone(settings):
    settings.AUDIT_CHECKPOINT_EVERY = 3
    for i in range(7):
        audit.record("alice", "thing.create", None, {"i": i})
    assert list(AuditCheckpoint.objects.values_list("seq", flat=True)) == [3, 6]
    public_key = load_pem_public_key(keys.platform_public_key_pem().encode())
    for checkpoint in AuditCheckpoint.objects.all():
        assert keys.verify(canonical_json(checkpoint.signed_fields()), checkpoint.signature, public_key)
        assert checkpoint.hash == AuditEvent.objects.get(seq=checkpoint.seq).hash
    forged = {"seq": 3, "hash": "0" * 64, "time": AuditCheckpoint.objects.first().time.isoformat()}
    assert not keys.verify(canonical_json(forged), AuditCheckpoint.objects.first().signature, public_key)


def test_daily_checkpoint_signs_the_head_once():
    assert checkpoint_create() is None  # empty log: nothing to sign
    audit.record("alice", "thing.create", None, {})
    first = checkpoint_create()
    again = checkpoint_create()
    assert first.pk == again.pk
    assert first.seq == 1


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


def test_purge_deletes_old_events_and_leaves_a_verifying_chain():
    start = datetime(2025, 1, 1, tzinfo=UTC)
    with time_machine.travel(start, tick=False):
        for i in range(4):
            audit.record("alice", "old", None, {"i": i})
    with time_machine.travel(start + timedelta(days=400), tick=False):
        audit.record("alice", "recent", None, {})
        deleted = events_purge(retention_days=365)
    assert deleted == 4
    assert list(AuditEvent.objects.values_list("action", flat=True)) == ["recent", "audit.purge"]
    anchor = AuditCheckpoint.objects.get(reason=AuditCheckpoint.Reason.PURGE)
    assert anchor.seq == 4
    code, output = run_verify()
    assert code == 0, output
    tamper("UPDATE audit_auditevent SET action = 'forged' WHERE seq = 5")
    assert run_verify()[0] == 1


@pytest.mark.realstack
def test_postgres_trigger_rejects_update_and_delete_outside_the_purge():
    from django.db import DatabaseError

    audit.record("alice", "thing.create", None, {})
    for sql in ("UPDATE audit_auditevent SET action = 'x'", "DELETE FROM audit_auditevent"):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as c:
            c.execute(sql)
    assert AuditEvent.objects.get().action == "thing.create"


def test_public_key_command_prints_the_key_that_verifies_checkpoints():
    audit.record("alice", "thing.create", None, {})
    checkpoint = checkpoint_create()
    out = io.StringIO()
    call_command("audit_public_key", stdout=out)
    pem = out.getvalue().split("\n", 1)[1]
    public_key = load_pem_public_key(pem.encode())
    assert keys.verify(canonical_json(checkpoint.signed_fields()), checkpoint.signature, public_key)
