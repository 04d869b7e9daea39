"""The log of token presentations: every verify call, whatever the answer (Provisions Art. 10)."""

from consent.models import ApiKey, Consent, Presentation

__all__ = ["presentation_record"]


def presentation_record(
    *,
    consent: Consent | None,
    api_key: ApiKey,
    modality: str,
    operation: str,
    media_sha256: str,
    result: str,
    reason: str,
    client_ip: str | None,
) -> Presentation:
    # One insert, no audit chain append: presentations are the high-volume log themselves, and
    # serialising every verify call on the audit head would make the hot path a single queue.
    return Presentation.objects.create(
        consent=consent,
        api_key=api_key,
        organization_id=api_key.organization_id,
        modality=modality,
        operation=operation,
        media_sha256=media_sha256,
        result=result,
        reason=reason,
        client_ip=client_ip,
    )
