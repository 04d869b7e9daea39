from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from identity.models import Organization


class ApiKey(models.Model):
    """A service's credential: `prefix.secret`, of which only the prefix and a SHA-256 of the secret are kept."""

    class Scope(models.TextChoices):
        REQUESTS_WRITE = "requests:write", _("create and cancel consent requests")
        CONSENTS_READ = "consents:read", _("read consents and their tokens")
        TOKENS_VERIFY = "tokens:verify", _("verify consent tokens")

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(max_length=16, unique=True)
    secret_hash = models.CharField(max_length=64)
    scopes = models.JSONField(default=list)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"{self.name} ({self.prefix})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
