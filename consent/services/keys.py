"""API keys for services."""

import hashlib
import secrets

from django.db import transaction

import audit
from consent.models import ApiKey
from identity.models import Organization

__all__ = ["API_KEY_PREFIX", "api_key_create", "api_key_hash"]

API_KEY_PREFIX = "lc_"


def api_key_hash(secret: str) -> str:
    # The secret is 256 random bits, so a plain SHA-256 is enough (no password stretching needed).
    return hashlib.sha256(secret.encode()).hexdigest()


@transaction.atomic
def api_key_create(*, actor, organization: Organization, name: str, scopes: list[str]) -> tuple[ApiKey, str]:
    """Create a key; the full value is returned once and never stored."""
    unknown = set(scopes) - set(ApiKey.Scope.values)
    if unknown:
        raise ValueError(f"unknown scopes: {sorted(unknown)}")
    prefix = API_KEY_PREFIX + secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    key = ApiKey.objects.create(
        organization=organization,
        name=name,
        prefix=prefix,
        secret_hash=api_key_hash(secret),
        scopes=sorted(scopes),
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    audit.record(actor, "api_key.create", key, {"organization": organization.pk, "scopes": key.scopes})
    return key, f"{prefix}.{secret}"
