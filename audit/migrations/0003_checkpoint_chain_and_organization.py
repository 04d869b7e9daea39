"""Chain the checkpoints and give every event an indexed organisation column.

Existing checkpoints are numbered in the order they were written (by id: a purge anchor signs an older
seq than the interval checkpoint written before it) and marked version 1: their signatures cover only
(seq, hash, time), and a migration has no business holding the platform signing key to re-sign them.
The first checkpoint written after this migration signs the last legacy one's signature as `prev`,
so the legacy run is fixed from that point on.

Existing events keep hash version 1 (their hash never covered organization_id); the column is filled
from data["organization"], which their hash does cover, and audit_verify checks that the two agree.
On PostgreSQL the append-only trigger is switched off for the duration of that one UPDATE.
"""

import hashlib

from django.db import migrations, models
from django.db.migrations.exceptions import IrreversibleError

GENESIS = "0" * 64
TABLE = "audit_auditevent"


def number_checkpoints(apps, schema_editor):
    AuditCheckpoint = apps.get_model("audit", "AuditCheckpoint")
    prev = GENESIS
    for cp_seq, checkpoint in enumerate(AuditCheckpoint.objects.order_by("id"), start=1):
        checkpoint.cp_seq, checkpoint.prev, checkpoint.version = cp_seq, prev, 1
        checkpoint.save(update_fields=["cp_seq", "prev", "version"])
        prev = hashlib.sha256(checkpoint.signature.encode()).hexdigest()


def unnumber_checkpoints(apps, schema_editor):
    # The columns are dropped by the schema operations that follow in reverse; a chained checkpoint
    # would then fail its signature for good, so refuse rather than break the log.
    if apps.get_model("audit", "AuditCheckpoint").objects.filter(version__gte=2).exists():
        raise IrreversibleError(
            "chained (version 2) audit checkpoints exist; dropping cp_seq and prev would void their signatures"
        )


def _trigger(schema_editor, state: str):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE {TABLE} {state} TRIGGER audit_event_append_only", params=None)


def backfill_organization(apps, schema_editor):
    AuditEvent = apps.get_model("audit", "AuditEvent")
    by_organization: dict[int, list[int]] = {}
    for pk, data in AuditEvent.objects.values_list("pk", "data").iterator(chunk_size=2000):
        value = data.get("organization") if isinstance(data, dict) else None
        if isinstance(value, int) and not isinstance(value, bool):
            by_organization.setdefault(value, []).append(pk)
    if not by_organization:
        return
    _trigger(schema_editor, "DISABLE")
    for organization_id, pks in by_organization.items():
        for start in range(0, len(pks), 1000):
            AuditEvent.objects.filter(pk__in=pks[start : start + 1000]).update(organization_id=organization_id)
    _trigger(schema_editor, "ENABLE")


def clear_organization(apps, schema_editor):
    # Events hashed with organization_id (version 2) would no longer verify once the column is dropped.
    if apps.get_model("audit", "AuditEvent").objects.filter(hash_version__gte=2).exists():
        raise IrreversibleError(
            "audit events with hash version 2 exist; dropping organization_id would break their hashes"
        )


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_append_only_trigger")]

    operations = [
        migrations.AlterModelOptions(name="auditcheckpoint", options={"ordering": ["cp_seq"]}),
        migrations.AddField(model_name="auditcheckpoint", name="cp_seq", field=models.BigIntegerField(null=True)),
        migrations.AddField(
            model_name="auditcheckpoint",
            name="prev",
            field=models.CharField(default=GENESIS, max_length=64),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="auditcheckpoint", name="version", field=models.PositiveSmallIntegerField(default=1)
        ),
        migrations.RunPython(number_checkpoints, unnumber_checkpoints),
        migrations.AlterField(model_name="auditcheckpoint", name="cp_seq", field=models.BigIntegerField(unique=True)),
        migrations.AlterField(
            model_name="auditcheckpoint", name="version", field=models.PositiveSmallIntegerField(default=2)
        ),
        migrations.AlterField(
            model_name="auditcheckpoint",
            name="reason",
            field=models.CharField(
                choices=[
                    ("interval", "every N events"),
                    ("daily", "scheduled (beat)"),
                    ("purge", "retention purge anchor"),
                ],
                max_length=16,
            ),
        ),
        migrations.AddField(
            model_name="auditevent",
            name="organization_id",
            field=models.BigIntegerField(blank=True, db_index=True, null=True),
        ),
        migrations.AddField(
            model_name="auditevent", name="hash_version", field=models.PositiveSmallIntegerField(default=1)
        ),
        migrations.RunPython(backfill_organization, clear_organization),
        migrations.AlterField(
            model_name="auditevent", name="hash_version", field=models.PositiveSmallIntegerField(default=2)
        ),
    ]
