"""Real-name verification: does this name belong to this ID number (and this phone)?

``REALNAME_BACKEND`` names the backend. The development backend checks only the number's checksum
and birth date and says so in its evidence; production uses ``HttpRealNameVerifier``, which asks a
carrier three-element (name + ID + phone) or public-security two-element (name + ID) provider.
"""

import logging
import secrets
from dataclasses import asdict, dataclass
from enum import StrEnum

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.utils.module_loading import import_string

from identity.gateway import GatewayRejected, GatewayUnavailable, required_setting, signed_post
from identity.validators import validate_resident_id

logger = logging.getLogger(__name__)

DEFAULT_BACKEND = "identity.realname.ChecksumOnlyVerifier"
CARRIER_THREE_ELEMENT = "carrier_three_element"
POLICE_TWO_ELEMENT = "police_two_element"


class Outcome(StrEnum):
    MATCHED = "matched"
    NOT_MATCHED = "not_matched"
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True)
class VerificationResult:
    outcome: Outcome
    method: str
    backend: str
    reference: str
    detail: str = ""

    def as_evidence(self) -> dict:
        """A JSON-able record of what was checked, by whom, and what they answered."""
        return {**asdict(self), "outcome": self.outcome.value}


class ChecksumOnlyVerifier:
    """Development backend. It proves nothing about the person: no authority is consulted."""

    backend = "development"
    method = "checksum_only"

    def verify(self, name: str, id_number: str, phone: str) -> VerificationResult:
        reference = f"dev-{secrets.token_hex(4)}"
        if not (name or "").strip():
            return self._result(Outcome.NOT_MATCHED, reference, "development backend: the name is empty")
        try:
            validate_resident_id(id_number)
        except ValidationError as exc:
            return self._result(Outcome.NOT_MATCHED, reference, str(exc.messages[0]))
        return self._result(
            Outcome.MATCHED,
            reference,
            "development backend: ID checksum and birth date checked only; no authority was consulted",
        )

    def _result(self, outcome: Outcome, reference: str, detail: str) -> VerificationResult:
        return VerificationResult(outcome, self.method, self.backend, reference, detail)


PROVIDER_RESULTS = {"match": Outcome.MATCHED, "mismatch": Outcome.NOT_MATCHED, "unknown": Outcome.UNAVAILABLE}


class HttpRealNameVerifier:
    """A real-name provider behind the signed HTTP gateway (see ``identity.gateway``).

    Network trouble never reaches the caller: it becomes an ``unavailable`` outcome, so a person is
    never told they do not match because our provider was down or we misconfigured it. The check runs
    inside the person's web request, so it is exactly one attempt with a short timeout and no sleep:
    when the provider is down the person is told to try again, rather than kept waiting through retries.
    """

    backend = "http"

    def verify(self, name: str, id_number: str, phone: str) -> VerificationResult:
        url = required_setting("REALNAME_HTTP_URL")
        app_id = required_setting("REALNAME_HTTP_APP_ID")
        secret = required_setting("REALNAME_HTTP_SECRET")
        method = getattr(settings, "REALNAME_HTTP_METHOD", CARRIER_THREE_ELEMENT)
        if method not in (CARRIER_THREE_ELEMENT, POLICE_TWO_ELEMENT):
            raise ImproperlyConfigured(
                f"REALNAME_HTTP_METHOD must be {CARRIER_THREE_ELEMENT!r} or {POLICE_TWO_ELEMENT!r}, not {method!r}."
            )
        payload = {"name": name, "id_number": id_number, "method": method}
        if method == CARRIER_THREE_ELEMENT:
            payload["phone"] = phone

        def result(outcome: Outcome, reference: str = "", detail: str = "") -> VerificationResult:
            return VerificationResult(outcome, method, self.backend, reference, detail)

        try:
            answer = signed_post(
                url=url,
                app_id=app_id,
                secret=secret,
                payload=payload,
                timeout=float(getattr(settings, "REALNAME_HTTP_TIMEOUT", 3)),
            )
        except GatewayUnavailable as exc:
            logger.warning("real-name provider unavailable: %s", exc.reason)
            return result(Outcome.UNAVAILABLE, detail=f"provider unavailable: {exc.reason}")
        except GatewayRejected as exc:
            logger.error("real-name provider rejected our request: HTTP %s", exc.status)
            return result(
                Outcome.UNAVAILABLE,
                detail=f"provider rejected the request (HTTP {exc.status}); check the REALNAME_HTTP_* settings",
            )
        reference = str(answer.get("request_id", ""))
        outcome = PROVIDER_RESULTS.get(answer.get("result"))
        if outcome is None:
            return result(
                Outcome.UNAVAILABLE, reference, f"provider answered an unknown result {answer.get('result')!r}"
            )
        if outcome == Outcome.UNAVAILABLE:
            return result(outcome, reference, "provider could not decide (result: unknown)")
        return result(outcome, reference)


def realname_verifier():
    return import_string(getattr(settings, "REALNAME_BACKEND", DEFAULT_BACKEND))()


def realname_verify(*, name: str, id_number: str, phone: str) -> VerificationResult:
    """Check name + ID number (+ phone) with the configured backend; never raises for network trouble."""
    return realname_verifier().verify(name, id_number, phone)
