"""API keys for services."""

import hashlib
import secrets

from django.db import transaction
from django.utils import timezone

import audit
from consent.errors import ApiKeyRevoked
from consent.models import ApiKey
from identity.models import Organization

__all__ = [
    "API_KEY_PREFIX",
    "api_key_create",
    "api_key_hash",
    "api_key_revoke",
    "api_key_rotate",
    "api_key_touch",
]

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


@transaction.atomic
def api_key_revoke(*, actor, organization: Organization, key_id: int) -> ApiKey:
    """Revoke a key at once. Idempotent: revoking a revoked key changes nothing and records nothing.

    Raises ApiKey.DoesNotExist for a key of another organisation.
    """
    key = ApiKey.objects.select_for_update().get(pk=key_id, organization=organization)
    if key.revoked_at is not None:
        return key
    key.revoked_at = timezone.now()
    key.save(update_fields=["revoked_at"])
    audit.record(actor, "api_key.revoke", key, {"organization": organization.pk, "prefix": key.prefix})
    return key


@transaction.atomic
def api_key_rotate(*, actor, organization: Organization, key_id: int) -> tuple[ApiKey, str]:
    """Replace a key by a new one with the same name and scopes; the old one is revoked in the same transaction.

    Returns the new key and its full value (shown once). Raises ApiKeyRevoked for a revoked key.
    """
    old = ApiKey.objects.select_for_update().get(pk=key_id, organization=organization)
    if old.revoked_at is not None:
        raise ApiKeyRevoked()
    old.revoked_at = timezone.now()
    old.save(update_fields=["revoked_at"])
    new, plaintext = api_key_create(actor=actor, organization=organization, name=old.name, scopes=old.scopes)
    audit.record(
        actor, "api_key.rotate", old, {"organization": organization.pk, "prefix": old.prefix, "new_prefix": new.prefix}
    )
    return new, plaintext


def api_key_touch(*, key: ApiKey) -> None:
    """Remember when a key was last used (at most once a minute, to keep the hot path light)."""
    ApiKey.objects.filter(pk=key.pk).update(last_used_at=timezone.now())
