import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("config")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Celery looks for `<app>.tasks` only; the PDF records keep their task beside their code.
app.autodiscover_tasks(["consent.records"])
