"""The signed provenance receipt's claims and the GB 45438-2025 implicit label (`AIGC` metadata JSON).

The label's `ProduceID` is the receipt id and `ReservedCode1` the public check address of that receipt,
which names us as issuer: a label found in a file leads back to the registration and its consent.
"""

from django.conf import settings

from consent.models import Output

AIGC_KEY = "AIGC"
# GB 45438-2025 §4.3 / Annex E: "1" = generated or synthesised by AI (2 = possibly, 3 = suspected).
LABEL_AI_GENERATED = "1"
C2PA_ASSERTION = "org.likeness-consent.provenance"
TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"


def check_url(receipt_id) -> str:
    return f"{settings.SITE_URL.rstrip('/')}/provenance/r/{receipt_id}"


def receipt_claims(output: Output) -> dict:
    """What the receipt signs. No personal data: the consent is named by its public id only."""
    claims = {
        "iss": settings.SITE_URL,
        "jti": str(output.public_id),
        "iat": int(output.created_at.timestamp()),
        "org": str(output.organization.public_id),  # as consent tokens name it in `aud`
        "org_name": output.organization.name,
        "consent": str(output.consent.public_id),
        "output": {"sha256": output.sha256, "media_type": output.media_type},
        "check": check_url(output.public_id),
    }
    if output.perceptual_hash:
        claims["output"]["phash"] = output.perceptual_hash
    return claims


def aigc_label(output: Output) -> dict:
    """The implicit label to write into the file's metadata under the key `AIGC` (GB 45438-2025 Annex E)."""
    return {
        AIGC_KEY: {
            "Label": LABEL_AI_GENERATED,
            "ContentProducer": output.organization.uscc,
            "ProduceID": str(output.public_id),
            "ReservedCode1": check_url(output.public_id),
            "ContentPropagator": "",
            "PropagateID": "",
            "ReservedCode2": "",
        }
    }
