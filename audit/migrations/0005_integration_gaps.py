"""The integrator remembers the event numbers it passed without finding an event (gaps), and looks for late
events only there, instead of scanning every event of the last hour on every run.

The gaps it passed before this migration are recorded here once: every number missing from the leaves
among the last hour's events, so a transaction still open across the deploy is folded in as before.
"""

from datetime import timedelta

from django.db import migrations, models
from django.utils import timezone

LATE_WINDOW = timedelta(hours=1)


def record_recent_gaps(apps, schema_editor):
    AuditEvent, AuditLeaf, AuditGap = (
        apps.get_model("audit", name) for name in ("AuditEvent", "AuditLeaf", "AuditGap")
    )
    tree = apps.get_model("audit", "AuditTree").objects.filter(id=1).first()
    now = timezone.now()
    since = AuditEvent.objects.filter(time__gte=now - LATE_WINDOW).order_by("seq").values_list("seq", flat=True).first()
    if tree is None or since is None:
        return
    gaps, previous = [], since - 1
    seen = (
        AuditLeaf.objects.filter(seq__gte=since, seq__lte=tree.last_seq).order_by("seq").values_list("seq", flat=True)
    )
    for seq in [*seen.iterator(chunk_size=10_000), tree.last_seq + 1]:
        if seq > previous + 1:
            gaps.append(AuditGap(first=previous + 1, last=seq - 1, noticed=now))
        previous = seq
    AuditGap.objects.bulk_create(gaps, batch_size=2000)


class Migration(migrations.Migration):
    dependencies = [("audit", "0004_transparency_log")]

    operations = [
        migrations.CreateModel(
            name="AuditGap",
            fields=[
                ("first", models.BigIntegerField(primary_key=True, serialize=False)),
                ("last", models.BigIntegerField()),
                ("noticed", models.DateTimeField(db_index=True)),
            ],
        ),
        migrations.RunPython(record_recent_gaps, migrations.RunPython.noop),
    ]
