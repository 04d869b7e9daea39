"""Client for the likeness consent service: `ConsentClient` for the API, `Verifier` for offline checks,
`LogWitness` to keep the audit log honest."""

from likeness_consent_client.client import ApiError, ConsentClient
from likeness_consent_client.verifier import Verifier, VerifyResult
from likeness_consent_client.witness import LogError, LogWitness, verify_evidence

__all__ = ["ApiError", "ConsentClient", "LogError", "LogWitness", "Verifier", "VerifyResult", "verify_evidence"]
