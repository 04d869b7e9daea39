from django.apps import AppConfig


class ConsentConfig(AppConfig):
    name = "consent"
    verbose_name = "Consent"

    def ready(self):
        from consent.api import schema  # noqa: F401  (registers the OpenAPI description of API keys)
