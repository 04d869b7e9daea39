"""Whose data is whose when phone numbers are recycled, and what an erased account leaves behind."""

import io
import json
import zipfile
from datetime import timedelta

import pypdf
import pytest
from django.utils import timezone

from consent import services
from consent.errors import NotForThisPerson
from consent.models import Artifact, ConsentRequest, RequestItem
from consent.services import consent_grant
from identity.models import Person
from identity.services import person_erase
from tests.consent.conftest import PERSON_PHONE, portal_sign_in, request_input

pytestmark = pytest.mark.django_db

MASKED_PHONE = "+86139****5678"
OTHER_ID = "110101199001011234"[:17]


def valid_id(first17: str) -> str:
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return first17 + "10X98765432"[sum(int(d) * w for d, w in zip(first17, weights, strict=True)) % 11]


def new_holder(client):
    """Someone else, who got Pat's old number from the carrier, signs in and verifies their own identity."""
    person = portal_sign_in(client)
    response = client.post("/identity/", {"legal_name": "王五", "id_number": valid_id(OTHER_ID)})
    assert response.status_code == 302, response.content
    client.person = Person.objects.get(pk=person.pk)
    return client


def export_of(client) -> dict:
    archive = zipfile.ZipFile(io.BytesIO(client.post("/me/export/").content))
    return json.loads(archive.read("data.json"))


@pytest.fixture
def deleted_pat(person_client, pending_request, organization, operator):
    """Pat opened one request and granted its face item, left a second one unopened, then deleted the account."""
    person_client.get(f"/r/{pending_request.code}/")
    consent_grant(actor=person_client.person, item_id=pending_request.items.get(position=1).pk)
    unopened = services.request_create(actor=operator, organization=organization, data=request_input())
    assert person_client.post("/me/delete/", {"confirm": "on"}).status_code == 302
    return pending_request, unopened


def test_new_holder_of_a_recycled_number_sees_nothing_of_the_former_holder(deleted_pat, client_factory, operator):
    opened, unopened = deleted_pat
    bob = new_holder(client_factory())
    data = export_of(bob)
    assert data["requests"] == [] and data["consents"] == []
    home = bob.get("/me/").content.decode()
    assert opened.code not in home and unopened.code not in home
    for code in (opened.code, unopened.code):
        assert bob.get(f"/r/{code}/").status_code in (403, 404)
    # A request sent to the number after the deletion is the new holder's.
    fresh = services.request_create(actor=operator, organization=opened.organization, data=request_input())
    assert fresh.code in bob.get("/me/").content.decode()
    assert [r["id"] for r in export_of(bob)["requests"]] == [fresh.pk]


def test_deletion_refuses_unopened_requests_and_masks_the_phone_on_all(deleted_pat):
    opened, unopened = deleted_pat
    opened.refresh_from_db()
    pat = Person.objects.get(pk=opened.person_id)
    for request in ConsentRequest.objects.filter(pk__in=[opened.pk, unopened.pk]):
        assert request.person_id == pat.pk
        assert request.person_phone == MASKED_PHONE and request.person_email == ""
    assert set(unopened.items.values_list("state", flat=True)) == {RequestItem.State.DENIED}


def test_request_opened_by_a_former_holder_stays_closed_to_the_new_one(pending_request, client_factory):
    """Rows from before phones were masked on deletion: the request's person, not its phone, decides."""
    pat = portal_sign_in(client_factory())
    services.request_open(person=pat, code=pending_request.code)
    person_erase(person=pat)  # erased without the masking that person_delete now does
    bob = new_holder(client_factory())
    with pytest.raises(NotForThisPerson):
        services.request_open(person=bob.person, code=pending_request.code)
    from consent import selectors

    assert list(selectors.requests_pending_for_person(person=bob.person)) == []
    assert export_of(bob)["requests"] == []


def test_new_terms_carry_only_a_masked_phone(pending_request):
    for item in pending_request.items.all():
        terms = json.loads(item.terms_json)
        assert terms["subject_phone"] == MASKED_PHONE
        assert PERSON_PHONE not in item.terms_json


@pytest.mark.pdf
def test_signed_record_holds_no_image_of_the_sample(person_client, pending_request):
    person_client.get(f"/r/{pending_request.code}/")
    consent = consent_grant(actor=person_client.person, item_id=pending_request.items.get(position=1).pk)
    with Artifact.objects.get(consent=consent, kind="grant").file.open("rb") as handle:
        reader = pypdf.PdfReader(io.BytesIO(handle.read()))
    assert sum(len(page.images) for page in reader.pages) == 0
    sample = pending_request.items.get(position=1).samples.get()
    assert sample.sha256 in "".join(page.extract_text() for page in reader.pages)


def test_deletion_page_says_what_is_kept_and_why_in_both_languages(person_client):
    page = person_client.get("/me/delete/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "将被保留的内容及原因" in page and "不含任何照片或录音" in page
    page = person_client.get("/me/delete/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "What is kept, and why" in page and "no photo or recording" in page and "Art. 10" in page


def test_deletion_succeeds_while_an_expired_request_awaits_the_expiry_sweep(person_client, pending_request):
    person_client.get(f"/r/{pending_request.code}/")
    ConsentRequest.objects.filter(pk=pending_request.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    assert person_client.post("/me/delete/", {"confirm": "on"})["Location"] == "/signin/"
    assert Person.objects.get(pk=person_client.person.pk).erased_at is not None
