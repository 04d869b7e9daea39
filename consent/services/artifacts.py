"""Signed PDF records of consents and withdrawals (filled in by the artifacts work)."""

__all__ = ["artifact_queue"]


def artifact_queue(*, consent, kind: str) -> None:
    """Queue rendering and signing of the artifact after commit. Called inside the grant/revoke transaction."""
