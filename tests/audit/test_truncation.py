"""The log cannot be cut: a rewind of the newest events is detected through the signed checkpoint chain."""

import base64
import hashlib
import io
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.management import CommandError, call_command

import audit
from audit import keys
from audit.canonical import canonical_json
from audit.models import AuditCheckpoint, AuditEvent, AuditHead
from audit.services import checkpoint_create
from tests.audit.test_chain import tamper

pytestmark = pytest.mark.django_db


def run_verify(*args) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("audit_verify", *args, stdout=out, stderr=err)
    except SystemExit as exc:
        return exc.code, out.getvalue() + err.getvalue()
    return 0, out.getvalue() + err.getvalue()


def latest_checkpoint_json() -> str:
    out = io.StringIO()
    call_command("audit_checkpoint_latest", stdout=out)
    return out.getvalue()


def record(n: int):
    for i in range(n):
        audit.record("alice", "thing.create", None, {"i": i})


def rewind_to(seq: int):
    """Delete every event after `seq` and set the head back, as an attacker with database access would."""
    last = AuditEvent.objects.get(seq=seq)
    tamper("DELETE FROM audit_auditevent WHERE seq > %s", [seq])
    tamper("UPDATE audit_audithead SET seq = %s, hash = %s WHERE id = 1", [seq, last.hash])


def test_checkpoints_are_numbered_without_gaps_and_sign_the_previous_signature(settings):
    settings.AUDIT_CHECKPOINT_EVERY = 3
    record(7)
    checkpoint_create()
    first, second, third = AuditCheckpoint.objects.order_by("cp_seq")
    assert [(c.cp_seq, c.seq) for c in (first, second, third)] == [(1, 3), (2, 6), (3, 7)]
    assert first.prev == "0" * 64
    assert second.prev == hashlib.sha256(first.signature.encode()).hexdigest()
    signed = json.loads(canonical_json(third.signed_fields()))
    assert signed["cp_seq"] == 3 and signed["prev"] == third.prev and signed["seq"] == 7
    assert run_verify()[0] == 0


def test_rewound_head_after_deleting_the_newest_events_fails_verify(settings):
    settings.AUDIT_CHECKPOINT_EVERY = 3
    record(7)  # checkpoints sign seq 3 and 6
    rewind_to(4)
    code, output = run_verify()
    assert code == 1
    assert "the log was cut" in output
    assert "seq 6" in output and "seq 4" in output


def test_scheduled_checkpoint_signs_the_head_so_a_rewind_of_even_one_event_is_caught():
    record(3)
    checkpoint_create()  # what beat runs every hour
    rewind_to(2)
    code, output = run_verify()
    assert code == 1
    assert "the log was cut" in output


def test_checkpoint_create_signs_a_head_that_moved_since_the_newest_checkpoint():
    record(2)
    first = checkpoint_create()
    assert checkpoint_create().pk == first.pk  # nothing new: no new checkpoint
    record(1)
    second = checkpoint_create()
    assert (second.cp_seq, second.seq) == (2, 3)


def test_deleted_checkpoint_in_the_middle_is_a_gap(settings):
    settings.AUDIT_CHECKPOINT_EVERY = 2
    record(6)
    tamper("DELETE FROM audit_auditcheckpoint WHERE cp_seq = 2")
    code, output = run_verify()
    assert code == 1
    assert "checkpoint missing" in output
    assert "checkpoint 2" in output


def test_renumbered_checkpoints_no_longer_verify(settings):
    settings.AUDIT_CHECKPOINT_EVERY = 2
    record(6)
    tamper("DELETE FROM audit_auditcheckpoint WHERE cp_seq = 2")
    tamper("UPDATE audit_auditcheckpoint SET cp_seq = 2 WHERE cp_seq = 3")
    code, output = run_verify()
    assert code == 1
    assert "signature does not verify" in output


def test_rewind_that_also_deletes_the_newest_checkpoints_is_caught_by_the_auditors_kept_checkpoint(settings, tmp_path):
    settings.AUDIT_CHECKPOINT_EVERY = 3
    record(4)
    kept_early = latest_checkpoint_json()  # an auditor's copy from an earlier visit (checkpoint 1)
    record(3)
    kept = tmp_path / "checkpoint.json"
    kept.write_text(latest_checkpoint_json())  # checkpoint 2, seq 6
    assert run_verify("--checkpoint", str(kept))[0] == 0
    rewind_to(4)
    tamper("DELETE FROM audit_auditcheckpoint WHERE cp_seq >= 2")
    assert run_verify()[0] == 0  # consistent on its own: this is what only an outside copy can catch
    assert run_verify("--checkpoint", kept_early)[0] == 0
    code, output = run_verify("--checkpoint", str(kept))
    assert code == 1
    assert "the auditor's checkpoint is gone" in output
    assert "checkpoint 2" in output


def test_auditors_checkpoint_must_match_the_stored_one(settings):
    settings.AUDIT_CHECKPOINT_EVERY = 2
    record(2)
    kept = latest_checkpoint_json()
    tamper("DELETE FROM audit_auditcheckpoint")
    tamper("DELETE FROM audit_auditevent")
    tamper("UPDATE audit_audithead SET seq = 0, hash = %s WHERE id = 1", ["0" * 64])
    record(2)  # a rebuilt log has a checkpoint 1 too, but not the same one
    code, output = run_verify("--checkpoint", kept)
    assert code == 1
    assert "differs from the stored one" in output


def test_forged_or_malformed_kept_checkpoint_is_refused_with_a_clear_error(settings):
    settings.AUDIT_CHECKPOINT_EVERY = 1
    record(1)
    kept = json.loads(latest_checkpoint_json())
    other_key = Ed25519PrivateKey.generate()
    kept_forged = kept | {"seq": 99}
    with pytest.raises(CommandError, match="signature does not verify"):
        call_command("audit_verify", "--checkpoint", json.dumps(kept_forged))
    resigned = kept | {"signature": base64.b64encode(other_key.sign(b"x")).decode()}
    with pytest.raises(CommandError, match="signature does not verify"):
        call_command("audit_verify", "--checkpoint", json.dumps(resigned))
    with pytest.raises(CommandError, match="not a checkpoint: the field cp_seq is missing"):
        call_command("audit_verify", "--checkpoint", '{"seq": 1}')
    with pytest.raises(CommandError, match="not a JSON object"):
        call_command("audit_verify", "--checkpoint", "{nope")
    with pytest.raises(CommandError, match="cannot read the checkpoint file"):
        call_command("audit_verify", "--checkpoint", "/nonexistent/checkpoint.json")


def test_latest_checkpoint_command_explains_an_empty_log():
    with pytest.raises(CommandError, match="no checkpoint yet"):
        call_command("audit_checkpoint_latest")


def test_legacy_unchained_checkpoints_verify_before_the_chained_ones_but_not_after(settings):
    record(2)
    legacy = AuditCheckpoint(cp_seq=1, prev="0" * 64, version=1, seq=2, reason="interval", key_id="k", signature="")
    legacy.hash = AuditEvent.objects.get(seq=2).hash
    legacy.time = AuditEvent.objects.get(seq=2).time
    legacy.signature = keys.sign(canonical_json(legacy.signed_fields()))
    legacy.save()
    assert set(legacy.signed_fields()) == {"seq", "hash", "time"}
    record(1)
    chained = checkpoint_create()
    assert chained.cp_seq == 2
    assert run_verify()[0] == 0
    record(1)
    late = AuditCheckpoint(cp_seq=3, prev="0" * 64, version=1, seq=4, reason="interval", key_id="k")
    late.hash, late.time = AuditEvent.objects.get(seq=4).hash, AuditEvent.objects.get(seq=4).time
    late.signature = keys.sign(canonical_json(late.signed_fields()))  # even a validly signed one
    late.save()
    code, output = run_verify()
    assert code == 1
    assert "unchained checkpoint after the chained ones" in output


def test_head_behind_the_newest_checkpoint_fails_verify():
    record(3)
    checkpoint_create()
    tamper("UPDATE audit_audithead SET seq = 2 WHERE id = 1")
    assert AuditHead.objects.get().seq == 2
    code, output = run_verify()
    assert code == 1
    assert "head does not match" in output
