"""Consent tokens: Ed25519 signing keys, issue and verification, Token Status Lists."""


def consent_token_issue(*, consent):
    """Issue the consent's token inside the grant transaction."""


def consent_token_invalidate(*, consent) -> None:
    """Flip the token's status-list bit inside the revoke/expire transaction."""
