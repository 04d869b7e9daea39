"""Append-only, hash-chained audit log (Provisions Art. 10). One entry point: `audit.record(...)`."""


def record(actor, action: str, target=None, data: dict | None = None, *, organization=None):
    """Append an event inside the caller's transaction; see `audit.services.event_record`."""
    # audit.services imports models; this package is imported while the app registry is still loading.
    from audit.services import event_record

    return event_record(actor=actor, action=action, target=target, data=data, organization=organization)
