"""The notice's recipients become a list of names ([] = none) instead of free text read for a word."""

from django.db import migrations, models

# What the free-text field was used for to say "nobody" (as the old receipt read it).
NONE_WORDS = {"", "none", "无", "无 none", "n/a", "-"}


def text_to_list(apps, schema_editor):
    ConsentRequest = apps.get_model("consent", "ConsentRequest")
    for pk, text in ConsentRequest.objects.values_list("pk", "notice_recipients"):
        names = [] if text.strip().lower() in NONE_WORDS else [text.strip()]
        ConsentRequest.objects.filter(pk=pk).update(notice_recipient_list=names)


def list_to_text(apps, schema_editor):
    ConsentRequest = apps.get_model("consent", "ConsentRequest")
    for pk, names in ConsentRequest.objects.values_list("pk", "notice_recipient_list"):
        ConsentRequest.objects.filter(pk=pk).update(notice_recipients="; ".join(names)[:300])


class Migration(migrations.Migration):
    dependencies = [("consent", "0009_recorded_consent_statement")]

    operations = [
        migrations.AddField(
            model_name="consentrequest",
            name="notice_recipient_list",
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.RunPython(text_to_list, list_to_text),
        migrations.RemoveField(model_name="consentrequest", name="notice_recipients"),
        migrations.RenameField(
            model_name="consentrequest", old_name="notice_recipient_list", new_name="notice_recipients"
        ),
    ]
