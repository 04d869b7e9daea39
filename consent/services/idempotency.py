"""Idempotent creation for the API: one Idempotency-Key, one request, the same answer on every retry."""

from django.db import IntegrityError, transaction

from consent.errors import IdempotencyKeyReused
from consent.models import ApiKey, ConsentRequest, IdempotencyRecord
from consent.services.requests import RequestInput, request_create

__all__ = ["request_create_idempotent"]


def request_create_idempotent(
    *, api_key: ApiKey, idempotency_key: str, fingerprint: str, data: RequestInput
) -> tuple[ConsentRequest, bool]:
    """Create the request once per key; returns (the request, replayed).

    The key's row is inserted first in the same transaction: a concurrent duplicate blocks on the unique
    index until this commits, then finds the request it created. A different body under the same key is
    refused. A retry is answered with the request as it is now, which is what it was unless it changed since.
    """
    organization = api_key.organization
    with transaction.atomic():
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(
                    organization=organization, key=idempotency_key, body_sha256=fingerprint
                )
        except IntegrityError:
            record = IdempotencyRecord.objects.select_related("request").get(
                organization=organization, key=idempotency_key
            )
            if record.body_sha256 != fingerprint:
                raise IdempotencyKeyReused() from None
            return record.request, True
        consent_request = request_create(actor=api_key, organization=organization, data=data)
        record.request = consent_request
        record.save(update_fields=["request"])
    return consent_request, False
