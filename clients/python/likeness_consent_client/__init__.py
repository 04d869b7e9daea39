"""Client for the likeness consent service: `ConsentClient` for the API, `Verifier` for offline checks."""

from likeness_consent_client.client import ApiError, ConsentClient
from likeness_consent_client.verifier import Verifier, VerifyResult

__all__ = ["ApiError", "ConsentClient", "Verifier", "VerifyResult"]
