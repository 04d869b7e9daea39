import django.db.models.deletion
from django.db import migrations, models


def request_from_stored_answer(apps, schema_editor):
    """A stored 201 answer carries the created request's id; keep the request, not the answer."""
    IdempotencyRecord = apps.get_model("consent", "IdempotencyRecord")
    ConsentRequest = apps.get_model("consent", "ConsentRequest")
    for record in IdempotencyRecord.objects.filter(status_code=201).iterator():
        request_id = (record.response or {}).get("id")
        if request_id and ConsentRequest.objects.filter(pk=request_id, organization_id=record.organization_id).exists():
            record.request_id = request_id
            record.save(update_fields=["request"])


def stored_answer_from_request(apps, schema_editor):
    """Going back: the minimal answer a retry can be given is the request's id."""
    IdempotencyRecord = apps.get_model("consent", "IdempotencyRecord")
    for record in IdempotencyRecord.objects.exclude(request=None).iterator():
        record.status_code, record.response = 201, {"id": record.request_id}
        record.save(update_fields=["status_code", "response"])


class Migration(migrations.Migration):
    dependencies = [
        ("consent", "0004_mask_erased_people_request_phones"),
    ]

    operations = [
        migrations.AddField(
            model_name="idempotencyrecord",
            name="request",
            field=models.ForeignKey(
                null=True, on_delete=django.db.models.deletion.CASCADE, related_name="+", to="consent.consentrequest"
            ),
        ),
        # Defaults first, so that going back can add the columns again over existing rows.
        migrations.AlterField(
            model_name="idempotencyrecord", name="status_code", field=models.PositiveSmallIntegerField(default=201)
        ),
        migrations.AlterField(model_name="idempotencyrecord", name="response", field=models.JSONField(default=dict)),
        migrations.RunPython(request_from_stored_answer, stored_answer_from_request),
        migrations.RemoveField(model_name="idempotencyrecord", name="response"),
        migrations.RemoveField(model_name="idempotencyrecord", name="status_code"),
    ]
