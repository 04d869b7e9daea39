"""The person's side in a real browser on a phone: SMS link → sign-in → identity → separate decisions."""

import re
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from consent import services
from consent.models import Consent, RequestItem
from tests.consent.conftest import PERSON_ID, PERSON_NAME, PERSON_PHONE, last_code, last_sms, request_input
from tests.e2e.conftest import PHONE, path_of, person_signs_in

PHONE_WIDTH = PHONE["viewport"]["width"]

pytestmark = pytest.mark.e2e


@pytest.fixture
def pending_request(transactional_db, organization, operator):
    """Created and committed like an operator would: the request SMS leaves through on_commit."""
    return services.request_create(actor=operator, organization=organization, data=request_input())


def signs_in_and_verifies_identity(page) -> None:
    """From the SMS link's landing page: the code to the masked number, the summary, then the real-name step."""
    page.get_by_role("button", name=re.compile("Send the code to")).click()
    page.wait_for_url("**/signin/code/")
    page.get_by_label("6-digit code from the SMS").fill(last_code(PERSON_PHONE))
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.get_by_role("link", name="Continue: confirm my identity").click()
    page.wait_for_url("**/identity/?*")
    page.get_by_label("Legal name (as on your ID card)").fill(PERSON_NAME)
    page.get_by_label("ID number (18 characters)").fill(PERSON_ID)
    page.get_by_role("button", name="Verify").click()
    page.wait_for_url(lambda url: "/identity/" not in url)


def test_person_on_a_phone_grants_one_item_denies_the_other_then_withdraws(
    phone_page, live_server, pending_request, tmp_path
):
    page = phone_page
    link = re.search(r"https?://\S+/r/\S+", last_sms()).group(0)
    request_path = f"/r/{pending_request.code}/"
    assert urlsplit(link).path.rstrip("/") == request_path.rstrip("/")

    page.goto(live_server.url + urlsplit(link).path)  # the SMS's own path; APPEND_SLASH adds the slash
    assert path_of(page) == request_path  # the landing page
    signs_in_and_verifies_identity(page)
    assert path_of(page) == request_path

    items = page.locator("section.item")
    assert items.count() == 2
    assert page.locator("input:checked").count() == 0  # nothing decided for the person
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE_WIDTH  # no sideways scrolling
    page.screenshot(path=tmp_path / "request-page.png", full_page=True)

    items.nth(0).get_by_role("button", name="Agree to this item").click()
    page.wait_for_url("**/grant/")
    shown = page.locator("strong", has_text="#").inner_text()
    face = pending_request.items.get(position=1)
    assert shown == f"#{face.digest}"
    assert shown in last_sms()  # the SMS names exactly the terms the page shows
    page.get_by_label("6-digit code from the SMS").fill(last_code())
    page.get_by_role("button", name="Agree to this item").click()
    page.wait_for_url(lambda url: urlsplit(url).path == request_path and "#item-" in url)  # on to the next item
    expect(items.nth(0).locator(".state")).to_have_text("you agreed")

    items.nth(1).get_by_role("link", name="Refuse this item").click()
    page.get_by_label("Reason (optional)").fill("Not my voice, please ask my agent")
    page.get_by_role("button", name="Yes, refuse this item").click()
    page.wait_for_url("**/done/")
    page.goto(live_server.url + request_path)
    expect(items.nth(1).locator(".state")).to_have_text("you said no")

    items.nth(0).get_by_role("link", name="See this consent, or withdraw it").click()
    page.wait_for_url("**/me/consents/*/")
    page.get_by_label("I want to withdraw this consent", exact=False).check()
    page.get_by_role("button", name="Withdraw", exact=True).click()
    expect(page.locator("h1 .state")).to_have_text("withdrawn")

    consent = Consent.objects.get()
    assert consent.item_id == face.pk
    assert consent.state == Consent.State.REVOKED
    assert consent.revoked_at is not None
    voice_item = RequestItem.objects.get(request=pending_request, position=2)
    assert voice_item.state == RequestItem.State.DENIED
    assert voice_item.deny_reason == "Not my voice, please ask my agent"


def test_a_wrong_id_number_is_shown_next_to_the_field_and_keeps_the_name(phone_page, live_server):
    page = phone_page
    page.goto(live_server.url + "/identity/")
    person_signs_in(page, PERSON_PHONE)
    page.wait_for_url("**/identity/")

    wrong = PERSON_ID[:17] + "1"  # the right check character is X
    page.get_by_label("Legal name (as on your ID card)").fill(PERSON_NAME)
    page.get_by_label("ID number (18 characters)").fill(wrong)
    page.get_by_role("button", name="Verify").click()

    id_field = page.locator(".field", has=page.locator("input[name=id_number]"))
    expect(id_field).to_have_class(re.compile(r"\bhas-error\b"))
    expect(id_field.locator(".error")).to_have_text("The check character is wrong: expected “X”, got “1”.")
    expect(page.locator(".error")).to_have_count(1)  # not on the name, not at the top of the form
    assert page.get_by_label("Legal name (as on your ID card)").input_value() == PERSON_NAME
    assert page.get_by_label("ID number (18 characters)").input_value() == wrong


def test_the_terms_name_operations_in_words_the_person_understands(phone_page, live_server, pending_request):
    page = phone_page
    page.goto(f"{live_server.url}/r/{pending_request.code}/")
    signs_in_and_verifies_identity(page)
    face, voice = (page.locator("section.item").nth(i).inner_text() for i in (0, 1))
    assert "Item 1: your face" in face and "face swap" in face
    assert "Item 2: your voice" in voice and "voice cloning" in voice
    assert "face_swap" not in face
