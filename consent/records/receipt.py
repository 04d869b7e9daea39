"""The machine-readable receipt embedded in every record (`receipt.json`), and its published JSON Schema.

Top level: the Kantara Initiative Consent Receipt v1.1 fields, with their exact names and types. Our own
fields live under one namespaced object, `x-likeness` (snake_case, as in the frozen terms). A later
addition (a transparency-log proof, an evidence block...) is a new optional key of that object: declare
it in `receipt.schema.json` (the schema every generated receipt is validated against in the tests),
then add it in `receipt_build`. The schema file is served verbatim at RECEIPT_SCHEMA_PATH.
"""

import json
import uuid
from functools import cache
from pathlib import Path

from django.conf import settings

from consent.models import Artifact, Consent
from consent.records.transparency import decision_evidence

RECEIPT_VERSION = "KI-CR-v1.1.0"
EXTENSION = "x-likeness"
RECEIPT_SCHEMA_FILE = Path(__file__).with_name("receipt.schema.json")
RECEIPT_SCHEMA_PATH = "/schemas/consent-receipt/v1.json"
COLLECTION_METHOD = "web portal; real-name check; SMS one-time code bound to the terms digest"


@cache
def receipt_schema() -> dict:
    return json.loads(RECEIPT_SCHEMA_FILE.read_text(encoding="utf-8"))


def receipt_schema_url() -> str:
    return f"{settings.SITE_URL}{RECEIPT_SCHEMA_PATH}"


def verify_url(consent: Consent) -> str:
    return f"{settings.SITE_URL}/verify/{consent.public_id}"


def token_jti(consent: Consent) -> str:
    # A consent may have no token (tokens arrived later than consents); the missing reverse relation
    # raises an AttributeError subclass, which getattr turns into the default.
    token = getattr(consent, "token", None)
    return getattr(token, "jti", "") or ""


# Consents frozen before recipients were a list carry free text; these are the words it used for "nobody".
_LEGACY_NONE = {"", "none", "无", "无 none", "n/a", "-"}


def terms_recipients(terms: dict) -> list[str]:
    """The named recipients of frozen terms: a list since recipients are structured, free text before."""
    recipients = terms.get("notice", {}).get("recipients", [])
    if isinstance(recipients, str):
        return [] if recipients.strip().lower() in _LEGACY_NONE else [recipients.strip()]
    return [str(name) for name in recipients]


def receipt_build(consent: Consent, kind: str, *, grant_sha256: str = "") -> dict:
    """The receipt of a grant or a withdrawal. `x-likeness.terms` is the frozen terms object itself, so its
    canonical JSON is byte for byte what was consented to."""
    terms = json.loads(consent.terms_json)
    org = consent.organization
    recipients = terms_recipients(terms)
    purpose = {
        "purpose": terms["purpose"],
        "purposeCategory": list(consent.operations),
        "consentType": "EXPLICIT",
        "piiCategory": [f"biometric:{consent.modality}"],
        "primaryPurpose": True,
        "termination": consent.valid_until.isoformat(),
        "thirdPartyDisclosure": bool(recipients),
    }
    if recipients:
        purpose["thirdPartyName"] = "; ".join(recipients)
    likeness = {
        "schema": receipt_schema_url(),
        "kind": kind,
        "consent_id": consent.pk,
        "uscc": org.uscc,
        "guardian": consent.guardian_id is not None,
        "code_digest": consent.code_digest,
        "token_jti": token_jti(consent),
        "recipients": recipients,
        "terms": terms,
        "terms_sha256": consent.terms_sha256,
    }
    # The decision's event in the transparency log, the signed checkpoint covering it and the inclusion proof:
    # checkable offline with the log's published key (consent.records.transparency.evidence_check).
    log_evidence = decision_evidence(consent, kind)
    if log_evidence is not None:
        likeness["transparency_log"] = log_evidence
    # The recorded consent statement and the same-person check, where the request asked for one.
    statement = (consent.evidence or {}).get("statement")
    if statement:
        likeness["statement"] = statement
    if kind == Artifact.Kind.REVOCATION:
        likeness["revocation"] = {
            "revoked_at": int(consent.revoked_at.timestamp()) if consent.revoked_at else None,
            "grant_artifact_sha256": grant_sha256 or None,
        }
    return {
        "version": RECEIPT_VERSION,
        "jurisdiction": "CN",
        "consentTimestamp": int(consent.granted_at.timestamp()),
        "collectionMethod": COLLECTION_METHOD,
        "consentReceiptID": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{verify_url(consent)}#{kind}")),
        "language": terms.get("language", "zh-hans"),
        "piiPrincipalId": consent.person.id_number_masked,
        "piiControllers": [
            {
                "piiController": org.name,
                "onBehalf": False,
                "contact": org.privacy_contact_name,
                "address": org.address,
                "email": org.privacy_contact_email,
                "phone": org.privacy_contact_phone,
            }
        ],
        "policyUrl": f"{settings.SITE_URL}/privacy/",
        "services": [
            {"service": terms.get("notice", {}).get("processor", org.name) or org.name, "purposes": [purpose]}
        ],
        "sensitive": True,
        "spiCat": ["biometric"],
        EXTENSION: likeness,
    }


def receipt_fields(receipt: dict) -> dict:
    """Our own fields of a receipt: under `x-likeness`, or at the top level in records issued before it."""
    own = receipt.get(EXTENSION)
    return own if isinstance(own, dict) else receipt
