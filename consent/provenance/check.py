"""The public provenance check: was this file (or hash) registered, by whom, under a consent in which state now.

It says nothing about the person: an output is named by its receipt id, the organisation by its name, the
consent only by its state. A perceptual-hash neighbour is reported apart, as "similar", never as a match.
"""

import hashlib
import uuid
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from consent.models import Consent, Output, OutputHashBand
from consent.provenance.embedded import Embedded, read_embedded
from consent.provenance.labels import AIGC_KEY
from consent.tokens import provenance_receipt_verify

SIMILAR_LIMIT = 5


@dataclass
class OutputFinding:
    output: Output
    how: list[str] = field(default_factory=list)  # sha256, aigc_label, receipt, c2pa
    distance: int | None = None

    @property
    def consent_state(self) -> str:
        consent = self.output.consent
        if consent.state == Consent.State.REVOKED:
            return "withdrawn"
        if consent.state == Consent.State.EXPIRED or consent.valid_until < timezone.now():
            return "expired"
        return "active"

    @property
    def receipt_valid(self) -> bool:
        """Our signature over the stored receipt verifies and it names exactly this output."""
        claims = provenance_receipt_verify(self.output.receipt) or {}
        return (
            claims.get("jti") == str(self.output.public_id)
            and claims.get("output", {}).get("sha256") == self.output.sha256
        )

    def as_public(self) -> dict:
        output = self.output
        return {
            "receipt_id": str(output.public_id),
            "matched_by": self.how,
            "registered_at": output.created_at.isoformat(),
            "organization": output.organization.name,
            "media_type": output.media_type,
            "consent_state": self.consent_state,
            "consent_withdrawn_at": output.consent_withdrawn_at.isoformat() if output.consent_withdrawn_at else None,
            "receipt_valid": self.receipt_valid,
            "perceptual_distance": self.distance,
        }


@dataclass
class ProvenanceReport:
    sha256: str
    media_type: str = ""
    outputs: list[OutputFinding] = field(default_factory=list)
    similar: list[OutputFinding] = field(default_factory=list)
    embedded: Embedded | None = None
    label_unrecognised: bool = False
    receipt_invalid: bool = False

    @property
    def exact(self) -> bool:
        return any("sha256" in finding.how for finding in self.outputs)

    def as_public(self) -> dict:
        embedded = self.embedded
        return {
            "sha256": self.sha256,
            "media_type": self.media_type,
            "registered": bool(self.outputs),
            "exact_file_registered": self.exact,
            "outputs": [finding.as_public() for finding in self.outputs],
            "similar": [finding.as_public() for finding in self.similar],
            "aigc_label": embedded.label if embedded else None,
            "aigc_label_recognised": bool(embedded and embedded.label) and not self.label_unrecognised,
            "embedded_receipt_valid": (None if not (embedded and embedded.receipt) else not self.receipt_invalid),
            "c2pa": (
                {k: v for k, v in embedded.c2pa.items() if k != "receipt"} if embedded and embedded.c2pa else None
            ),
            "c2pa_readable": embedded.c2pa_available if embedded else None,
        }


def _outputs():
    return Output.objects.select_related("organization", "consent")


def _as_uuid(value) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def _add(report: ProvenanceReport, output: Output | None, how: str) -> None:
    if output is None:
        return
    for finding in report.outputs:
        if finding.output.pk == output.pk:
            if how not in finding.how:
                finding.how.append(how)
            return
    report.outputs.append(OutputFinding(output=output, how=[how]))


def _by_receipt(receipt: str) -> Output | None:
    """The output a receipt names, if the receipt is ours (signature) and agrees with the registration."""
    claims = provenance_receipt_verify(receipt)
    receipt_id = _as_uuid((claims or {}).get("jti"))
    if receipt_id is None:
        return None
    output = _outputs().filter(public_id=receipt_id).first()
    if output is None or claims.get("output", {}).get("sha256") != output.sha256:
        return None
    return output


def _distance(a: str, b: str) -> int | None:
    try:
        return (int(a, 16) ^ int(b, 16)).bit_count()
    except ValueError:
        return None


def _similar(report: ProvenanceReport, perceptual_hash: str) -> None:
    """Registered outputs whose perceptual hash is close: a hint for moderators, never proof."""
    limit = settings.PROVENANCE_SIMILAR_MAX_DISTANCE
    bands = OutputHashBand.of(perceptual_hash)
    if not bands:
        return
    # Every output within `limit` (≤ 7) bits is at most one bit from the hash in at least one quarter.
    sharing = Q()
    for band, value in bands:
        sharing |= Q(band=band, value__in=OutputHashBand.near(value))
    near = OutputHashBand.objects.filter(sharing).values("output_id")
    candidates = []
    for pk, other in Output.objects.filter(pk__in=near).values_list("pk", "perceptual_hash"):
        distance = _distance(perceptual_hash, other)
        if distance is not None and distance <= limit:
            candidates.append((distance, pk))
    found = {finding.output.pk: finding for finding in report.outputs}
    for finding in found.values():
        if finding.output.perceptual_hash:
            finding.distance = _distance(perceptual_hash, finding.output.perceptual_hash)
    others = sorted(c for c in candidates if c[1] not in found)[:SIMILAR_LIMIT]
    outputs = _outputs().in_bulk([pk for _d, pk in others])
    report.similar = [OutputFinding(output=outputs[pk], how=["similar"], distance=d) for d, pk in others]


def provenance_check_hash(*, sha256: str) -> ProvenanceReport:
    sha256 = sha256.strip().lower()
    report = ProvenanceReport(sha256=sha256)
    for output in _outputs().filter(sha256=sha256):
        _add(report, output, "sha256")
    if report.outputs:
        report.media_type = report.outputs[0].output.media_type
    return report


def provenance_check_receipt_id(*, receipt_id) -> ProvenanceReport | None:
    """The page a label's ReservedCode1 leads to; None for an unknown id."""
    parsed = _as_uuid(receipt_id)
    output = _outputs().filter(public_id=parsed).first() if parsed else None
    if output is None:
        return None
    report = ProvenanceReport(sha256=output.sha256, media_type=output.media_type)
    _add(report, output, "receipt_id")
    return report


def provenance_check_file(*, content: bytes) -> ProvenanceReport:
    """Check an uploaded file: its hash, the AIGC label, an embedded receipt, a C2PA manifest, similarity."""
    report = provenance_check_hash(sha256=hashlib.sha256(content).hexdigest())
    embedded = read_embedded(content)
    report.embedded = embedded
    report.media_type = embedded.media_type or report.media_type
    if embedded.label is not None:
        receipt_id = _as_uuid(embedded.label.get("ProduceID"))
        labelled = _outputs().filter(public_id=receipt_id).first() if receipt_id else None
        report.label_unrecognised = labelled is None
        _add(report, labelled, "aigc_label")
    if embedded.receipt:
        by_receipt = _by_receipt(embedded.receipt)
        report.receipt_invalid = by_receipt is None
        _add(report, by_receipt, "receipt")
    if embedded.c2pa and embedded.c2pa.get("receipt"):
        _add(report, _by_receipt(embedded.c2pa["receipt"]), "c2pa")
    if embedded.perceptual_hash:
        _similar(report, embedded.perceptual_hash)
    return report


__all__ = [
    "AIGC_KEY",
    "ProvenanceReport",
    "provenance_check_file",
    "provenance_check_hash",
    "provenance_check_receipt_id",
]
