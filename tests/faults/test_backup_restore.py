"""The backup drill: dump a live database and its media, restore into a fresh database, and everything
still verifies: the audit chain, old tokens, old signed PDFs, and a withdrawn consent stays withdrawn."""

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.faults

SEED = "from tests.faults.scenarios import seed\nprint(json.dumps(seed(consents=3, revoke=1)))"

VERIFY_TOKENS = """
from consent.models import Consent
from consent.tokens import token_verify
out = []
for consent_id, token in json.loads({tokens!r}):
    c = Consent.objects.select_related("item").get(pk=consent_id)
    o = token_verify(token=token, audience_org_id=c.organization_id, modality="face", operation="face_swap",
                     media_sha256=None, require_media_binding=False)
    out.append({{"id": consent_id, "active": o.active, "reason": o.reason, "state": c.state,
                "artifacts": [a.file.path for a in c.artifacts.order_by("kind")]}})
print(json.dumps(out))
"""


def test_a_restored_dump_verifies_end_to_end(stack, db_name, tmp_path):
    env = stack.env(db_name, CELERY_TASK_ALWAYS_EAGER="1")  # render the signed PDFs in-process
    seeded = stack.django(db_name, SEED, env=env)
    backup = tmp_path / "backup"
    stack.manage(db_name, "backup_dump", str(backup), env=env)
    manifest = json.loads((backup / "manifest.json").read_text())
    assert set(manifest["files"]) == {"database.dump", "media.tar.gz"}
    assert "PII_ENCRYPTION_KEYS" in manifest["secrets_to_keep_with_this_backup"]

    restored = db_name + "_restored"
    stack.create_db(restored)  # empty: not even migrated
    restored_env = stack.env(restored, CELERY_TASK_ALWAYS_EAGER="1")
    result = stack.manage(restored, "backup_restore", str(backup), env=restored_env)
    assert "Restored the backup" in result.stdout

    verify = stack.manage(restored, "audit_verify", env=restored_env)
    assert "Audit chain intact" in verify.stdout

    tokens = json.dumps([[c["id"], c["token"]] for c in seeded["consents"]])
    answers = stack.django(restored, VERIFY_TOKENS.format(tokens=tokens), env=restored_env)
    withdrawn = next(a for a in answers if a["id"] == seeded["consents"][0]["id"])
    assert withdrawn["state"] == "revoked" and withdrawn["active"] is False and withdrawn["reason"] == "revoked"
    still_active = [a for a in answers if a["id"] != withdrawn["id"]]
    assert [a["active"] for a in still_active] == [True, True]
    assert sorted(len(a["artifacts"]) for a in answers) == [1, 1, 2]  # grant records; grant + withdrawal
    for answer in answers:
        for path in answer["artifacts"]:
            assert Path(path).is_relative_to(stack.root / f"media-{restored}")  # the restored copy, not the original
            checked = stack.manage(restored, "verify_artifact", path, env=restored_env, check=False)
            assert checked.returncode == 0, checked.stdout + checked.stderr
            assert "VALID" in checked.stdout
            if answer["id"] == withdrawn["id"]:
                assert "state now: revoked" in checked.stdout


def test_restore_refuses_a_damaged_backup_and_a_database_in_use(stack, db_name, tmp_path):
    env = stack.env(db_name, CELERY_TASK_ALWAYS_EAGER="1")
    stack.django(db_name, SEED.replace("consents=3, revoke=1", "consents=1, revoke=0"), env=env)
    backup = tmp_path / "backup"
    stack.manage(db_name, "backup_dump", str(backup), env=env)

    into_used = stack.manage(db_name, "backup_restore", str(backup), env=env, check=False)
    assert into_used.returncode != 0 and "is not empty: restore into a fresh database" in into_used.stderr

    dump = backup / "database.dump"
    data = bytearray(dump.read_bytes())
    data[len(data) // 2] ^= 0xFF
    dump.write_bytes(bytes(data))
    fresh = db_name + "_fresh"
    stack.create_db(fresh)
    damaged = stack.manage(fresh, "backup_restore", str(backup), check=False)
    assert damaged.returncode != 0 and "database.dump does not match its SHA-256" in damaged.stderr
    assert stack.sql(fresh, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == [(0,)]
