"""Idempotent creation for the API: one Idempotency-Key, one request, the same answer on every retry."""

import json
from collections.abc import Callable

from django.db import IntegrityError, transaction

from consent.errors import IdempotencyKeyReused
from consent.models import ApiKey, IdempotencyRecord
from consent.services.requests import RequestInput, request_create

__all__ = ["IdempotencyKeyReused", "request_create_idempotent"]


def request_create_idempotent(
    *, api_key: ApiKey, idempotency_key: str, fingerprint: str, data: RequestInput, render: Callable
) -> tuple[int, dict, bool]:
    """Create the request once per key; returns (status, body, replayed).

    The key's row is inserted first in the same transaction: a concurrent duplicate blocks on the unique
    index until this commits, then finds the stored answer. A different body under the same key is refused.
    """
    organization = api_key.organization
    with transaction.atomic():
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(
                    organization=organization, key=idempotency_key, body_sha256=fingerprint, status_code=0, response={}
                )
        except IntegrityError:
            record = IdempotencyRecord.objects.get(organization=organization, key=idempotency_key)
            if record.body_sha256 != fingerprint:
                raise IdempotencyKeyReused() from None
            return record.status_code, record.response, True
        consent_request = request_create(actor=api_key, organization=organization, data=data)
        body = json.loads(json.dumps(render(consent_request), default=str))
        record.status_code, record.response = 201, body
        record.save(update_fields=["status_code", "response"])
    return 201, body, False
