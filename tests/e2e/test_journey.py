"""The decision journey on a 390 × 844 phone in real Chromium: SMS link → sign in → summary → real name →
grant item 1 with its code → refuse item 2 → completion page; a screenshot of every screen, no sideways scroll."""

import re
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from consent import services
from consent.models import Consent, RequestItem
from tests.consent.conftest import PERSON_ID, PERSON_NAME, last_code, last_sms, request_input
from tests.e2e.conftest import path_of
from tests.e2e.screenshots import check_screen

pytestmark = pytest.mark.e2e


@pytest.fixture
def pending_request(transactional_db, organization, operator):
    return services.request_create(actor=operator, organization=organization, data=request_input())


def test_a_person_decides_each_item_on_a_phone_from_the_sms_link_to_the_completion_page(
    phone_page, live_server, pending_request
):
    page = phone_page
    link = re.search(r"https?://\S+/r/\S+", last_sms()).group(0)
    request_path = f"/r/{pending_request.code}/"
    face, voice = pending_request.items.order_by("position")

    page.goto(live_server.url + urlsplit(link).path)
    assert path_of(page) == request_path  # the landing page, not a sign-in form
    expect(page.locator("h1")).to_contain_text(pending_request.organization.name)
    expect(page.get_by_text("Film dubbing trailer")).to_have_count(0)  # nothing personal before sign-in
    check_screen(page, "01-landing")

    page.get_by_role("button", name="Send the code to +86139****5678").click()
    page.wait_for_url("**/signin/code/")
    check_screen(page, "02-signin-code")
    page.get_by_label("6-digit code from the SMS").fill(last_code())
    page.get_by_role("button", name="Sign in", exact=True).click()

    page.wait_for_url(f"**{request_path}")
    expect(page.get_by_role("heading", name="Why we ask for your name and ID number")).to_be_visible()
    expect(page.get_by_text("Film dubbing trailer")).to_be_visible()  # the summary, before the real name
    check_screen(page, "03-summary")
    page.get_by_role("link", name="Continue: confirm my identity").click()

    page.wait_for_url("**/identity/?*")
    check_screen(page, "04-identity")
    page.get_by_label("Legal name (as on your ID card)").fill(PERSON_NAME)
    page.get_by_label("ID number (18 characters)").fill(PERSON_ID)
    page.get_by_role("button", name="Verify").click()

    page.wait_for_url(f"**{request_path}")
    cards = page.locator("section.item")
    expect(cards).to_have_count(2)
    photo = cards.nth(0).locator("img")
    expect(photo).to_be_visible()
    assert page.evaluate("(img) => img.complete && img.naturalWidth > 0", photo.element_handle())
    audio = cards.nth(1).locator("audio")
    audio.evaluate("a => new Promise(done => { if (a.readyState >= 1) done(); a.onloadedmetadata = done; })")
    assert audio.evaluate("a => a.duration") > 0  # the phone's player can read the recording
    check_screen(page, "05-items")

    cards.nth(0).get_by_role("button", name="Agree to this item").click()
    page.wait_for_url("**/grant/")
    expect(page.locator("strong", has_text="#")).to_have_text(f"#{face.digest}")
    assert f"#{face.digest}" in last_sms()
    check_screen(page, "06-grant-code")
    page.get_by_label("6-digit code from the SMS").fill(last_code())
    page.get_by_role("button", name="Agree to this item").click()

    page.wait_for_url(f"**{request_path}#item-{voice.pk}")
    expect(page.get_by_text("Still open: item 2.")).to_be_visible()
    check_screen(page, "07-next-item")
    page.locator(f"#item-{voice.pk}").get_by_role("link", name="Refuse this item").click()

    page.wait_for_url("**/deny/")
    expect(page.get_by_text("For 30 days")).to_be_visible()
    check_screen(page, "08-refuse-confirm")
    page.get_by_role("button", name="Yes, refuse this item").click()

    page.wait_for_url("**/done/")
    expect(page.locator(".outcomes .state")).to_have_text(["you agreed", "you said no"])
    check_screen(page, "09-done")

    page.get_by_role("button", name="简体中文").click()  # the default language for real users
    expect(page.locator("h1")).to_have_text("您的决定已记录")
    expect(page.locator(".outcomes .state")).to_have_text(["您已同意", "您已拒绝"])
    check_screen(page, "10-done-zh")
    page.goto(live_server.url + request_path)
    check_screen(page, "11-items-zh")

    assert Consent.objects.get().item_id == face.pk
    voice.refresh_from_db()
    assert voice.state == RequestItem.State.DENIED
