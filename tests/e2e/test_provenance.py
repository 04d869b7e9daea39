"""Output provenance in a real browser: anyone checks a labelled file on /provenance/, the person sees the
outputs of their consent and opts in to thumbnails; each screen checked with axe-core and photographed."""

import base64
import hashlib

import pytest
from likeness_consent_client import label_file
from playwright.sync_api import expect
from rest_framework.test import APIClient

from consent import services
from consent.models import Presentation
from identity import services as identity_services
from tests.consent.conftest import PERSON_ID, PERSON_NAME, PERSON_PHONE, request_input
from tests.consent.media import png_bytes, write_png
from tests.e2e.conftest import person_signs_in
from tests.e2e.screenshots import check_screen

pytestmark = pytest.mark.e2e


@pytest.fixture
def labelled(transactional_db, organization, operator, tmp_path):
    """Pat's face consent, one output registered under it (with a thumbnail) and labelled by the client."""
    person = identity_services.person_for_phone(phone=PERSON_PHONE)
    person = identity_services.person_identity_verify(person=person, legal_name=PERSON_NAME, id_number=PERSON_ID)
    request = services.request_create(actor=operator, organization=organization, data=request_input())
    services.request_open(person=person, code=request.code)
    consent = services.consent_grant(actor=person, item_id=request.items.get(position=1).pk)
    _key, secret = services.api_key_create(
        actor=operator, organization=organization, name="gen", scopes=["tokens:verify", "outputs:write"]
    )
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    body = {"token": consent.token.value, "modality": "face", "operation": "face_swap"}
    assert api.post("/api/v1/tokens/verify", body, format="json").json()["active"]
    path = write_png(tmp_path / "output.png")
    answer = api.post(
        "/api/v1/outputs",
        {
            "presentation_id": Presentation.objects.get().pk,
            "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
            "media_type": "image/png",
            "thumbnail_base64": base64.b64encode(png_bytes()).decode(),
        },
        format="json",
    ).json()
    label_file(path, answer)
    return consent, path


def test_anyone_checks_a_labelled_file_and_the_person_sees_its_output(phone_page, live_server, labelled):
    consent, path = labelled
    page = phone_page
    page.goto(live_server.url + "/provenance/")
    check_screen(page, "provenance-check")
    page.get_by_label("File").set_input_files(str(path))
    page.get_by_role("button", name="Check").click()
    expect(page.get_by_text("Labelled: the file carries provenance")).to_be_visible()
    expect(page.get_by_text("consent active")).to_be_visible()
    check_screen(page, "provenance-check-labelled")

    page.goto(f"{live_server.url}/me/consents/{consent.pk}/")
    person_signs_in(page, PERSON_PHONE)
    page.wait_for_url(f"**/me/consents/{consent.pk}/")
    expect(page.get_by_role("heading", name="What was made with this consent")).to_be_visible()
    expect(page.get_by_alt_text("Thumbnail sent by the organisation")).to_have_count(0)
    page.get_by_role("button", name="Show thumbnails the organisations sent").click()
    expect(page.get_by_alt_text("Thumbnail sent by the organisation")).to_be_visible()
    check_screen(page, "consent-outputs")
