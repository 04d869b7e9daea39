"""The organisation column of audit events: hashed for new events, checked against the data for old ones."""

import importlib
from types import SimpleNamespace

import pytest
from django.db import connection
from django.db.migrations.exceptions import IrreversibleError
from django.db.migrations.loader import MigrationLoader
from django.utils import timezone

import audit
from audit import keys
from audit.canonical import canonical_json, sha256_hex
from audit.models import AuditCheckpoint, AuditEvent, AuditHead
from audit.services import checkpoint_create
from tests.audit.test_chain import run_verify, tamper

pytestmark = pytest.mark.django_db
MIGRATION = "0003_checkpoint_chain_and_organization"
migration = importlib.import_module(f"audit.migrations.{MIGRATION}")


def legacy_event(seq: int, prev_hash: str, data: dict) -> AuditEvent:
    """An event as written before the column existed (hash version 1), appended behind the ORM's back."""
    event = audit.record("alice", "placeholder", None, {})
    tamper("DELETE FROM audit_auditevent WHERE seq = %s", [event.seq])
    legacy = AuditEvent(
        seq=seq, time=event.time, actor_type="system", actor_label="alice", action="request.create",
        data=data, prev_hash=prev_hash, hash_version=1,
    )  # fmt: skip
    legacy.hash = sha256_hex(legacy.hashed_fields())
    legacy.save(force_insert=True)
    AuditHead.objects.filter(id=1).update(seq=seq, hash=legacy.hash)
    return legacy


def test_record_takes_the_organisation_explicitly_or_from_the_data():
    assert audit.record("a", "x.y", None, {}, organization=7).organization_id == 7
    assert audit.record("a", "x.y", None, {"organization": 8}).organization_id == 8
    assert audit.record("a", "x.y", None, {"organization": "8"}).organization_id is None  # only real ids
    assert audit.record("a", "x.y", None, {}).organization_id is None


def test_moving_an_event_to_another_organisation_breaks_its_hash():
    audit.record("alice", "thing.create", None, {}, organization=1)
    audit.record("alice", "thing.create", None, {}, organization=1)
    assert run_verify()[0] == 0
    tamper("UPDATE audit_auditevent SET organization_id = 2 WHERE seq = 1")
    code, output = run_verify()
    assert code == 1
    assert "seq 1" in output and "content does not match its hash" in output


def test_downgrading_an_event_to_the_legacy_hash_breaks_it():
    audit.record("alice", "thing.create", None, {}, organization=1)
    tamper("UPDATE audit_auditevent SET hash_version = 1 WHERE seq = 1")
    assert run_verify()[0] == 1


def test_legacy_event_verifies_and_its_backfilled_column_must_match_its_hashed_data():
    first = legacy_event(1, "0" * 64, {"organization": 5})
    audit.record("alice", "after.upgrade", None, {})
    tamper("UPDATE audit_auditevent SET organization_id = 5 WHERE seq = 1")  # what the backfill does
    assert run_verify()[0] == 0, run_verify()[1]
    assert first.hash == AuditEvent.objects.get(seq=1).hash
    tamper("UPDATE audit_auditevent SET organization_id = 6 WHERE seq = 1")  # hidden from its organisation
    code, output = run_verify()
    assert code == 1
    assert "organisation does not match the hashed data" in output


def test_migration_backfills_the_column_from_the_data_and_numbers_old_checkpoints():
    legacy_event(1, "0" * 64, {"organization": 5})
    signed = AuditCheckpoint(seq=1, hash=AuditEvent.objects.get(seq=1).hash, time=timezone.now(), version=1)
    signature = keys.sign(canonical_json(signed.signed_fields()))  # as checkpoints were signed before
    tamper(
        "INSERT INTO audit_auditcheckpoint (cp_seq, prev, version, seq, hash, time, reason, key_id, signature)"
        " VALUES (99, '', 2, %s, %s, %s, 'daily', 'k', %s)",
        [signed.seq, signed.hash, signed.time, signature],
    )
    state_apps = MigrationLoader(connection).project_state(("audit", MIGRATION)).apps
    schema_editor = SimpleNamespace(connection=connection, execute=lambda sql, params=None: tamper(sql))
    migration.backfill_organization(state_apps, schema_editor)
    assert AuditEvent.objects.get(seq=1).organization_id == 5
    migration.number_checkpoints(state_apps, schema_editor)
    assert list(AuditCheckpoint.objects.values_list("cp_seq", "version")) == [(1, 1)]
    assert run_verify()[0] == 0, run_verify()[1]  # a legacy checkpoint's signature covers seq, hash, time
    audit.record("alice", "after.upgrade", None, {})
    chained = checkpoint_create()
    assert (chained.cp_seq, chained.version) == (2, 2)
    assert run_verify()[0] == 0


def test_migration_refuses_to_reverse_once_events_or_checkpoints_depend_on_the_new_columns():
    state_apps = MigrationLoader(connection).project_state(("audit", MIGRATION)).apps
    migration.clear_organization(state_apps, None)  # nothing written since: reversible
    migration.unnumber_checkpoints(state_apps, None)
    audit.record("alice", "thing.create", None, {}, organization=1)
    checkpoint_create()
    with pytest.raises(IrreversibleError, match="hash version 2"):
        migration.clear_organization(state_apps, None)
    with pytest.raises(IrreversibleError, match="chained"):
        migration.unnumber_checkpoints(state_apps, None)
