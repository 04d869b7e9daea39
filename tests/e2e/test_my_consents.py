"""The person's own pages on a phone: my consents, one consent's uses, withdrawal, export and deletion,
each checked with axe-core (WCAG 2.2 AA) and photographed under test-output/screenshots/."""

import io
import re
import zipfile

import pytest
from playwright.sync_api import expect

from consent import services
from consent.models import Consent
from consent.portal.views import USES_PER_PAGE
from identity import services as identity_services
from identity.models import Person
from tests.consent.conftest import PERSON_ID, PERSON_NAME, PERSON_PHONE, record_uses, request_input
from tests.e2e.axe import assert_accessible
from tests.e2e.conftest import PHONE, path_of, person_signs_in
from tests.e2e.screenshots import check_screen, screenshot

pytestmark = pytest.mark.e2e


@pytest.fixture
def history(transactional_db, organization, operator):
    """Pat, verified, granted the face item (used by a service many times) and refused the voice item."""
    person = identity_services.person_for_phone(phone=PERSON_PHONE)
    person = identity_services.person_identity_verify(person=person, legal_name=PERSON_NAME, id_number=PERSON_ID)
    request = services.request_create(actor=operator, organization=organization, data=request_input())
    services.request_open(person=person, code=request.code)
    consent = services.consent_grant(actor=person, item_id=request.items.get(position=1).pk)
    services.item_deny(person=person, item_id=request.items.get(position=2).pk, reason="")
    record_uses(consent, USES_PER_PAGE + 2, organization, operator, refused_every=5)
    return consent


def test_person_finds_a_consent_and_its_uses_withdraws_it_exports_and_deletes(phone_page, live_server, history):
    page = phone_page
    page.goto(live_server.url + "/signin/")
    check_screen(page, "signin")
    page.goto(live_server.url + "/me/")
    person_signs_in(page, PERSON_PHONE)
    page.wait_for_url("**/me/")
    check_screen(page, "my-consents")
    expect(page.get_by_role("heading", name="Refused")).to_be_visible()
    expect(page.get_by_role("heading", name="Past requests")).to_be_visible()
    expect(page.get_by_text("Your voice: voice cloning")).to_have_count(2)  # refused; and in the past request

    page.locator("section", has=page.get_by_role("heading", name="Active consents")).get_by_role(
        "link", name=re.compile("Example Tech")
    ).click()
    page.wait_for_url(f"**/me/consents/{history.pk}/")
    expect(page.locator("li.use")).to_have_count(USES_PER_PAGE)
    expect(page.get_by_text("refused because: operation not consented").first).to_be_visible()
    notices = page.locator("section", has=page.get_by_role("heading", name="Messages we sent you"))
    expect(notices.locator("li.notice")).to_have_count(1)  # the request's SMS, delivered after its commit
    expect(notices.locator("li.notice")).to_contain_text("first notice")
    expect(notices.locator("li.notice")).to_contain_text("SMS: sent")
    check_screen(page, "consent-uses")
    page.get_by_role("link", name="Older").click()
    expect(page.locator("li.use")).to_have_count(2)
    check_screen(page, "consent-uses-page-2")

    page.goto(f"{live_server.url}/me/consents/{history.pk}/revoke/")
    check_screen(page, "withdraw-confirm")
    page.get_by_role("button", name="Withdraw", exact=True).click()  # without ticking the box
    expect(page.locator(".field.has-error .error")).to_have_text("Tick the box to confirm that you want to withdraw.")
    assert Consent.objects.get(pk=history.pk).state == Consent.State.ACTIVE
    check_screen(page, "withdraw-confirm-error")
    page.get_by_label("I want to withdraw this consent", exact=False).check()
    page.get_by_role("button", name="Withdraw", exact=True).click()
    page.wait_for_url(f"**/me/consents/{history.pk}/")
    expect(page.locator("h1 .state")).to_have_text("withdrawn")
    assert Consent.objects.get(pk=history.pk).state == Consent.State.REVOKED
    check_screen(page, "consent-withdrawn")

    page.goto(live_server.url + "/me/")
    expect(page.get_by_role("heading", name="Withdrawn")).to_be_visible()
    page.get_by_role("button", name="简体中文").click()
    expect(page.get_by_role("heading", name="已撤回")).to_be_visible()
    check_screen(page, "my-consents-zh")
    page.get_by_role("button", name="English").click()
    expect(page.get_by_role("heading", name="Withdrawn")).to_be_visible()
    page.set_viewport_size({"width": 1366, "height": 900})  # a laptop: the same page, no stretched lines
    screenshot(page, "my-consents-1366")
    assert_accessible(page, "my consents at 1366 px")
    page.set_viewport_size(PHONE["viewport"])
    with page.expect_download() as download:
        page.get_by_role("button", name="Download a copy of my data (JSON and signed PDFs)").click()
    archive = zipfile.ZipFile(io.BytesIO(download.value.path().read_bytes()))
    assert "data.json" in archive.namelist()

    page.get_by_role("link", name="Delete my account").click()
    page.wait_for_url("**/me/delete/")
    check_screen(page, "delete-account")
    page.get_by_label("Delete my account", exact=False).check()
    page.get_by_role("button", name="Delete my account").click()
    page.wait_for_url("**/signin/")
    assert path_of(page) == "/signin/"
    assert Person.objects.get().erased_at is not None


def test_the_accessibility_check_fails_on_serious_violations_and_names_them(phone_page):
    page = phone_page
    page.set_content('<html><body><img src="x.png"><label>Name</label><input id="n"><button></button></body></html>')
    with pytest.raises(AssertionError) as failure:
        assert_accessible(page, "a bad page")
    report = str(failure.value)
    assert "a bad page" in report
    assert "image-alt" in report and "button-name" in report and "html-has-lang" in report
