"""Webhook delivery (Standard Webhooks) from the outbox."""


def event_deliver(*, event_id: int):
    """Deliver one outbox event to the organisation's endpoint."""


def events_sweep() -> int:
    """Queue delivery of pending events whose next attempt is due (covers a broker outage)."""
    return 0
