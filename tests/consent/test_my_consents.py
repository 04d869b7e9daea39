"""The person's "my consents" pages: every decision findable again, uses in words and paginated, theirs only."""

import io
import json
import re
import zipfile
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from consent import selectors, services
from consent.models import Consent, ConsentRequest
from consent.portal.views import USES_PER_PAGE
from identity import services as identity_services
from tests.consent.conftest import PERSON_NAME, portal_sign_in, record_uses, request_input

pytestmark = pytest.mark.django_db

QUINN_PHONE = "+8613700001111"
QUINN_ID = "110101199003070011"


@pytest.fixture(autouse=True)
def _no_pdf_rendering(monkeypatch):
    from consent.records.tasks import artifact_render_task

    monkeypatch.setattr(artifact_render_task, "delay", lambda *args, **kwargs: None)


@pytest.fixture
def opened(person_client, pending_request):
    person_client.get(f"/r/{pending_request.code}/")
    return person_client, pending_request


@pytest.fixture
def granted_and_denied(opened):
    """Face granted, voice refused: the request is decided and closed."""
    client, request = opened
    consent = services.consent_grant(actor=client.person, item_id=request.items.get(position=1).pk)
    services.item_deny(person=client.person, item_id=request.items.get(position=2).pk, reason="not my voice")
    return client, request, consent


def section(html: str, heading: str) -> str:
    """The HTML of the <section> whose heading reads `heading` (empty if there is none)."""
    start = html.find(f">{heading}</h2>")
    if start == -1:
        return ""
    return html[start : html.find("</section>", start)]


def test_my_consents_lists_refused_items_with_the_date_the_cool_down_ends(granted_and_denied):
    client, request, _consent = granted_and_denied
    voice = request.items.get(position=2)
    html = client.get("/me/").content.decode()
    refused = section(html, "Refused")
    assert "Your voice: voice cloning" in refused
    assert "reason: not my voice" in refused
    until = timezone.localdate(voice.decided_at + timedelta(days=30)).isoformat()
    assert f"Until {until}, this organisation may not ask you again for your voice." in refused


def test_my_consents_lists_past_requests_with_each_items_outcome(granted_and_denied):
    client, request, _consent = granted_and_denied
    request.refresh_from_db()
    assert request.state == ConsentRequest.State.COMPLETED
    past = section(client.get("/me/").content.decode(), "Past requests")
    assert f'href="/r/{request.code}/"' in past
    assert "Your face: face swap" in past and "granted" in past
    assert "Your voice: voice cloning" in past and "denied" in past


def test_my_consents_name_operations_in_words_and_use_no_table(granted_and_denied):
    client, _request, consent = granted_and_denied
    html = client.get("/me/").content.decode()
    active = section(html, "Active consents")
    assert f'href="/me/consents/{consent.pk}/"' in active
    assert "Your face: face swap" in active
    assert "face_swap" not in html and "voice_cloning" not in html
    assert "<table" not in html


def test_withdrawn_and_expired_consents_are_listed_apart_from_active_ones(opened):
    client, request = opened
    face = services.consent_grant(actor=client.person, item_id=request.items.get(position=1).pk)
    voice = services.consent_grant(actor=client.person, item_id=request.items.get(position=2).pk)
    services.consent_revoke(person=client.person, consent_id=face.pk, reason="")
    services.consents_expire(now=voice.valid_until + timedelta(seconds=1))
    assert Consent.objects.get(pk=voice.pk).state == Consent.State.EXPIRED
    html = client.get("/me/").content.decode()
    assert f"/me/consents/{face.pk}/" in section(html, "Withdrawn")
    assert f"/me/consents/{voice.pk}/" in section(html, "Expired")
    assert "No active consents." in section(html, "Active consents")


def test_blocking_and_the_cool_down_are_explained_next_to_the_block_button(granted_and_denied, organization):
    client, _request, _consent = granted_and_denied
    block = section(client.get("/me/").content.decode(), "Organisations that asked you")
    assert "Blocking an organisation stops all its future requests to you" in block
    assert "for 30 days" in block
    assert f'action="/me/organizations/{organization.pk}/block/"' in block
    client.post(f"/me/organizations/{organization.pk}/block/")
    block = section(client.get("/me/").content.decode(), "Organisations that asked you")
    assert f'action="/me/organizations/{organization.pk}/unblock/"' in block
    assert f'action="/me/organizations/{organization.pk}/block/"' not in block


def test_uses_of_a_consent_are_a_paginated_list_in_words(granted_and_denied, organization, operator):
    client, _request, consent = granted_and_denied
    record_uses(consent, USES_PER_PAGE + 3, organization, operator)

    first = client.get(f"/me/consents/{consent.pk}/").content.decode()
    assert first.count('<li class="use">') == USES_PER_PAGE
    assert "<table" not in first
    assert "face swap" in first and "face attribute editing" in first
    assert "refused because: operation not consented" in first
    assert "operation_not_consented" not in first and "face_swap" not in first
    assert "Page 1 of 2" in first and 'href="?page=2#uses-heading"' in first

    second = client.get(f"/me/consents/{consent.pk}/?page=2").content.decode()
    assert second.count('<li class="use">') == 3


@pytest.mark.parametrize(("page", "uses_shown"), [("0", 1), ("99", 1), ("-1", 1), ("abc", USES_PER_PAGE)])
def test_a_page_number_out_of_range_shows_a_page_not_an_error(
    granted_and_denied, organization, operator, page, uses_shown
):  # a number past either end shows the last page, a word the first
    client, _request, consent = granted_and_denied
    record_uses(consent, USES_PER_PAGE + 1, organization, operator)
    response = client.get(f"/me/consents/{consent.pk}/", {"page": page})
    assert response.status_code == 200
    assert response.content.decode().count('<li class="use">') == uses_shown


def test_another_person_gets_404_on_a_consent_its_uses_and_its_withdrawal(
    granted_and_denied, client_factory, organization, operator
):
    _client, _request, consent = granted_and_denied
    quinn = client_factory()
    portal_sign_in(quinn, QUINN_PHONE)
    assert quinn.post("/identity/", {"legal_name": PERSON_NAME, "id_number": QUINN_ID}).status_code == 302
    assert quinn.get(f"/me/consents/{consent.pk}/").status_code == 404
    assert quinn.get(f"/me/consents/{consent.pk}/?page=2").status_code == 404
    assert quinn.get(f"/me/consents/{consent.pk}/revoke/").status_code == 404
    assert quinn.post(f"/me/consents/{consent.pk}/revoke/", {"confirm": "on"}).status_code == 404
    assert Consent.objects.get(pk=consent.pk).state == Consent.State.ACTIVE
    assert f"/me/consents/{consent.pk}/" not in quinn.get("/me/").content.decode()


def test_withdrawing_needs_the_confirmation_box_and_says_what_it_does(granted_and_denied):
    client, _request, consent = granted_and_denied
    page = client.get(f"/me/consents/{consent.pk}/revoke/").content.decode()
    assert "can no longer use your likeness under this consent" in page
    # A sentence as a label takes no colon after its full stop.
    assert ">I want to withdraw this consent. Services can no longer use my likeness under it.</label>" in page
    response = client.post(f"/me/consents/{consent.pk}/revoke/", {"reason": "changed my mind"})
    assert response.status_code == 200
    html = response.content.decode()
    assert (
        '<p class="error" id="id_confirm-error" role="alert">Tick the box to confirm that you want to withdraw.' in html
    )
    assert re.search(r'<input type="checkbox" name="confirm"[^>]*aria-describedby="id_confirm-error"', html)
    assert Consent.objects.get(pk=consent.pk).state == Consent.State.ACTIVE
    response = client.post(f"/me/consents/{consent.pk}/revoke/", {"reason": "changed my mind", "confirm": "on"})
    assert response.status_code == 302
    assert Consent.objects.get(pk=consent.pk).state == Consent.State.REVOKED


def test_the_home_page_reads_as_many_queries_for_two_consents_as_for_one(opened):
    client, request = opened
    services.consent_grant(actor=client.person, item_id=request.items.get(position=1).pk)
    with CaptureQueriesContext(connection) as one:
        client.get("/me/")
    services.consent_grant(actor=client.person, item_id=request.items.get(position=2).pk)
    with CaptureQueriesContext(connection) as two:
        html = client.get("/me/").content.decode()
    assert html.count('class="entry-link" href="/me/consents/') == 2
    assert len(two) == len(one)


def test_the_export_holds_each_refusal_with_its_date_and_reason_and_why_a_use_was_refused(
    granted_and_denied, organization, operator
):
    client, request, consent = granted_and_denied
    record_uses(consent, 2, organization, operator)
    archive = zipfile.ZipFile(io.BytesIO(client.post("/me/export/").content))
    data = json.loads(archive.read("data.json"))
    (exported,) = [r for r in data["requests"] if r["id"] == request.pk]
    voice = next(i for i in exported["items"] if i["modality"] == "voice")
    assert voice["state"] == "denied" and voice["deny_reason"] == "not my voice"
    assert voice["decided_at"] == request.items.get(position=2).decided_at.isoformat()
    uses = data["consents"][0]["uses"]
    assert {(u["operation"], u["result"], u["reason"]) for u in uses} == {
        ("face_swap", "active", ""),
        ("attribute_editing", "inactive", "operation_not_consented"),
    }


def test_the_list_selectors_return_only_this_persons_decisions_and_organisations(
    granted_and_denied, other_organization, other_operator
):
    """One test per ownership filter, so that removing one fails here even if a page hid the rows."""
    client, request, _consent = granted_and_denied
    pat = client.person
    quinn = identity_services.person_identity_verify(
        person=identity_services.person_for_phone(phone=QUINN_PHONE), legal_name="李四", id_number=QUINN_ID
    )
    theirs = services.request_create(
        actor=other_operator, organization=other_organization, data=request_input(phone=QUINN_PHONE)
    )
    services.request_open(person=quinn, code=theirs.code)
    for item in theirs.items.all():
        services.item_deny(person=quinn, item_id=item.pk, reason="")

    assert [i.request_id for i in selectors.denied_items_for_person(person=pat)] == [request.pk]
    assert [r.pk for r in selectors.requests_past_for_person(person=pat)] == [request.pk]
    assert list(selectors.organizations_asking_person(person=pat)) == [request.organization]
    assert {i.request_id for i in selectors.denied_items_for_person(person=quinn)} == {theirs.pk}
    assert [r.pk for r in selectors.requests_past_for_person(person=quinn)] == [theirs.pk]
    assert list(selectors.organizations_asking_person(person=quinn)) == [other_organization]


def test_the_uses_selector_returns_only_that_consents_uses(opened, organization, operator):
    client, request = opened
    face = services.consent_grant(actor=client.person, item_id=request.items.get(position=1).pk)
    voice = services.consent_grant(actor=client.person, item_id=request.items.get(position=2).pk)
    record_uses(face, 2, organization, operator)
    record_uses(voice, 3, organization, operator)
    assert {p.consent_id for p in selectors.presentations_for_consent(consent=face)} == {face.pk}
    assert selectors.presentations_for_consent(consent=voice).count() == 3


def test_a_consent_shows_the_person_their_own_photo_and_the_terms_in_words_not_hashes(granted_and_denied):
    client, request, consent = granted_and_denied
    html = client.get(f"/me/consents/{consent.pk}/").content.decode()
    sample = consent.item.samples.get()
    assert f'src="/r/{request.code}/items/{consent.item.pk}/samples/{sample.pk}/"' in html
    assert sample.sha256 not in html
    assert consent.item.digest not in html
    assert "<dd>face swap</dd>" in html
    assert client.get(f"/r/{request.code}/items/{consent.item.pk}/samples/{sample.pk}/").status_code == 200
