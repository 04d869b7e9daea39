"""Download of a consent's signed PDF records: the person it is about and their organisation's operators only."""

from django.http import FileResponse, Http404
from django.views.decorators.cache import never_cache

from consent import selectors
from consent.models import Artifact, Consent
from identity.decorators import identity_required, office_required


def _artifact_response(consent: Consent, kind: str) -> FileResponse:
    artifact = consent.artifacts.filter(kind=kind).first() if kind in Artifact.Kind.values else None
    if artifact is None:  # not rendered yet, or no such kind: the same answer as a foreign consent
        raise Http404
    return FileResponse(
        artifact.file.open("rb"), content_type="application/pdf", filename=f"consent-{consent.pk}-{kind}.pdf"
    )


@never_cache
@identity_required
def person_artifact(request, consent_id: int, kind: str):
    consent = selectors.consent_get_for_person(person=request.person, consent_id=consent_id)
    return _artifact_response(consent, kind)


@never_cache
@office_required
def operator_artifact(request, consent_id: int, kind: str):
    consent = selectors.consent_get_for_member(user=request.user, consent_id=consent_id)
    return _artifact_response(consent, kind)
