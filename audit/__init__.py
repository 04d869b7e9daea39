"""Append-only transparency log (Provisions Art. 10): events in an RFC 9162 Merkle tree with signed
C2SP checkpoints. One entry point for writers: `audit.record(...)`."""


def record(actor, action: str, target=None, data: dict | None = None, *, organization=None):
    """Append an event inside the caller's transaction; see `audit.services.event_record`."""
    # audit.services imports models; this package is imported while the app registry is still loading.
    from audit.services import event_record

    return event_record(actor=actor, action=action, target=target, data=data, organization=organization)


def evidence(seq: int) -> dict | None:
    """The offline-checkable proof that event `seq` is in the log; see `audit.services.event_evidence`."""
    # As above: audit.services imports models, not loadable while the app registry is.
    from audit.services import event_evidence

    return event_evidence(seq=seq)
