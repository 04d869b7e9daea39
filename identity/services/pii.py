"""Re-encryption of personal data under the current key (after adding a new key to PII_ENCRYPTION_KEYS)."""

from django.db import transaction

import audit
from identity.crypto import current_key_id, decrypt, encrypt, key_id_of
from identity.models import Guardian, Person

__all__ = ["pii_rotate"]

ENCRYPTED = {
    Person: {"legal_name_enc": "person.legal_name", "id_number_enc": "person.id_number"},
    Guardian: {"legal_name_enc": "guardian.legal_name", "id_number_enc": "guardian.id_number"},
}


def pii_rotate(*, batch_size: int = 500) -> int:
    """Re-encrypt every value not under the current key; returns how many rows changed. Resumable."""
    target = current_key_id()
    changed = 0
    for model, fields in ENCRYPTED.items():
        pks = list(model.objects.values_list("pk", flat=True).order_by("pk"))
        for start in range(0, len(pks), batch_size):
            with transaction.atomic():
                rows = model.objects.select_for_update().filter(pk__in=pks[start : start + batch_size])
                for row in rows:
                    stale = [f for f in fields if getattr(row, f) and key_id_of(getattr(row, f)) != target]
                    for field in stale:
                        context = fields[field]
                        setattr(row, field, encrypt(decrypt(getattr(row, field), context=context), context=context))
                    if stale:
                        row.save(update_fields=stale)
                        changed += 1
    audit.record("rotate_pii_key", "pii.rotate", None, {"key_id": target, "rows": changed})
    return changed
