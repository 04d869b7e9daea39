"""The hash chain becomes a Merkle-tree transparency log (RFC 9162 hashing, C2SP checkpoints).

1. The existing chain is verified first (every event's hash and link, as audit_verify did): a broken chain
   is refused, never laundered into a fresh tree.
2. The chain columns, the head row and the old checkpoints go: their signatures covered chain hashes
   that no longer exist. The first checkpoint the integrator signs after this migration covers every
   existing event.
3. Existing events are folded into the tree in seq order: leaf i is SHA-256(0x00 || canonical event).
4. On PostgreSQL a sequence hands out seqs from here on, starting after the highest existing one.

This copy of the canonical form and the hashing is deliberate: a migration never imports app code.
"""

import hashlib
import json

from django.db import migrations, models
from django.db.migrations.exceptions import IrreversibleError

GENESIS = "0" * 64
SHIFT = 56


def _canonical(value) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _chain_fields(event) -> dict:
    fields = {
        "seq": event.seq,
        "time": event.time.isoformat(),
        "actor_type": event.actor_type,
        "actor_id": event.actor_id,
        "actor_label": event.actor_label,
        "action": event.action,
        "target_type": event.target_type,
        "target_id": event.target_id,
        "data": event.data,
        "prev_hash": event.prev_hash,
    }
    if event.hash_version >= 2:
        fields |= {"organization_id": event.organization_id, "v": 2}
    return fields


def check_chain(apps, schema_editor):
    AuditEvent = apps.get_model("audit", "AuditEvent")
    AuditCheckpoint = apps.get_model("audit", "AuditCheckpoint")
    anchors = AuditCheckpoint.objects.filter(reason="purge").order_by("-seq").first()
    expected_prev = anchors.hash if anchors else GENESIS
    for event in AuditEvent.objects.order_by("seq").iterator(chunk_size=2000):
        recomputed = hashlib.sha256(_canonical(_chain_fields(event))).hexdigest()
        if event.prev_hash != expected_prev or recomputed != event.hash:
            raise RuntimeError(
                f"the audit chain is broken at seq {event.seq}: refusing to fold it into the transparency log. "
                "Run `manage.py audit_verify` on the previous release and investigate first."
            )
        expected_prev = event.hash


def fold_events(apps, schema_editor):
    AuditEvent = apps.get_model("audit", "AuditEvent")
    AuditLeaf = apps.get_model("audit", "AuditLeaf")
    AuditNode = apps.get_model("audit", "AuditNode")
    AuditTree = apps.get_model("audit", "AuditTree")
    edge: list[bytes] = []
    size = last_seq = 0
    leaves, nodes = [], []
    for event in AuditEvent.objects.order_by("seq").iterator(chunk_size=2000):
        body = {
            "seq": event.seq,
            "time": event.time.isoformat(),
            "actor_type": event.actor_type,
            "actor_id": event.actor_id,
            "actor_label": event.actor_label,
            "action": event.action,
            "target_type": event.target_type,
            "target_id": event.target_id,
            "data": event.data,
            "organization_id": event.organization_id,
        }
        current = hashlib.sha256(b"\x00" + _canonical(body)).digest()
        leaves.append(AuditLeaf(index=size, seq=event.seq))
        nodes.append(AuditNode(key=size, hash=current))
        index, level = size, 0
        while index & 1:
            current = hashlib.sha256(b"\x01" + edge.pop() + current).digest()
            index, level = index >> 1, level + 1
            nodes.append(AuditNode(key=level << SHIFT | index, hash=current))
        edge.append(current)
        size, last_seq = size + 1, event.seq
    AuditLeaf.objects.bulk_create(leaves, batch_size=2000)
    AuditNode.objects.bulk_create(nodes, batch_size=2000)
    AuditTree.objects.update_or_create(id=1, defaults={"size": size, "last_seq": last_seq})


def create_sequence(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    last = apps.get_model("audit", "AuditTree").objects.filter(id=1).values_list("last_seq", flat=True).first() or 0
    schema_editor.execute(f"CREATE SEQUENCE IF NOT EXISTS audit_event_seq START WITH {int(last) + 1}", params=None)


def only_when_empty(apps, schema_editor):
    # Going back would need the chain hashes, which the tree does not keep: only an empty log can.
    if apps.get_model("audit", "AuditEvent").objects.exists():
        raise IrreversibleError("the transparency log holds events; it cannot be turned back into a hash chain")


def drop_sequence(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP SEQUENCE IF EXISTS audit_event_seq", params=None)


class Migration(migrations.Migration):
    dependencies = [("audit", "0003_checkpoint_chain_and_organization")]

    operations = [
        migrations.RunPython(check_chain, migrations.RunPython.noop),
        migrations.RemoveField(model_name="auditevent", name="prev_hash"),
        migrations.RemoveField(model_name="auditevent", name="hash"),
        migrations.RemoveField(model_name="auditevent", name="hash_version"),
        migrations.DeleteModel(name="AuditHead"),
        migrations.DeleteModel(name="AuditCheckpoint"),
        migrations.CreateModel(
            name="AuditCheckpoint",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("number", models.BigIntegerField(unique=True)),
                ("size", models.BigIntegerField(db_index=True)),
                ("root_hash", models.CharField(max_length=64)),
                ("note", models.TextField()),
                ("prev", models.CharField(max_length=64)),
                ("time", models.DateTimeField()),
                ("chain_signature", models.CharField(max_length=128)),
            ],
            options={"ordering": ["number"]},
        ),
        migrations.CreateModel(
            name="AuditLeaf",
            fields=[
                ("index", models.BigIntegerField(primary_key=True, serialize=False)),
                ("seq", models.BigIntegerField(unique=True)),
            ],
        ),
        migrations.CreateModel(
            name="AuditNode",
            fields=[
                ("key", models.BigIntegerField(primary_key=True, serialize=False)),
                ("hash", models.BinaryField(max_length=32)),
            ],
        ),
        migrations.CreateModel(
            name="AuditTree",
            fields=[
                ("id", models.PositiveSmallIntegerField(default=1, primary_key=True, serialize=False)),
                ("size", models.BigIntegerField(default=0)),
                ("last_seq", models.BigIntegerField(default=0)),
            ],
            options={
                "constraints": [models.CheckConstraint(condition=models.Q(("id", 1)), name="audit_tree_singleton")]
            },
        ),
        migrations.RunPython(fold_events, only_when_empty),
        migrations.RunPython(create_sequence, drop_sequence),
    ]
