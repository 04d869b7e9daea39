"""The operator's dashboard in a real desktop browser at 1366×900: figures, attention lists, SVG charts."""

import pytest
from playwright.sync_api import expect

from consent import services
from consent.builders import build_granted_consent, build_request, build_verified_person
from consent.models import Presentation
from tests.conftest import OPERATOR_PASSWORD, enrol_totp, totp_now
from tests.e2e.conftest import _page
from tests.e2e.screenshots import check_screen

pytestmark = pytest.mark.e2e

OFFICE = {"viewport": {"width": 1366, "height": 900}}


@pytest.fixture
def office_page(browser, live_server, transactional_db):
    context, page = _page(browser, **OFFICE)
    yield page
    context.close()


def test_operator_reads_the_dashboard_and_changes_the_period(office_page, live_server, organization, operator):
    page = office_page
    person = build_verified_person(phone="+8613800138000")
    consent = build_granted_consent(person=person, actor=operator, organization=organization)
    build_request(actor=operator, organization=organization, phone="+8613800138001")
    key, _secret = services.api_key_create(
        actor=operator, organization=organization, name="render farm", scopes=["tokens:verify"]
    )
    for result in (Presentation.Result.ACTIVE, Presentation.Result.INACTIVE):
        services.presentation_record(
            consent=consent,
            api_key=key,
            modality="face",
            operation="face_swap",
            media_sha256="",
            result=result,
            reason="" if result == Presentation.Result.ACTIVE else "operation_not_consented",
            client_ip=None,
        )
    device = enrol_totp(operator)
    device.last_t = -1  # enrolment used the current code; a TOTP code is accepted only once
    device.save(update_fields=["last_t"])

    page.goto(live_server.url + "/office/")
    page.get_by_label("Username").fill(operator.username)
    page.get_by_label("Password").fill(OPERATOR_PASSWORD)
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url("**/office/otp/")
    page.get_by_label("6-digit code from your authenticator app").fill(totp_now(device))
    page.get_by_role("button", name="Verify").click()
    page.wait_for_url("**/office/")

    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    figures = page.locator("ul.figures")
    expect(figures).to_contain_text("2 open requests")
    expect(figures).to_contain_text("1 active consents")
    expect(figures).to_contain_text("1 refused presentations in the last 24 hours")
    expect(page.locator("figure.chart")).to_have_count(2)
    expect(page.locator("figure.chart").first.locator("g.day")).to_have_count(30)
    expect(page.get_by_role("link", name="Dashboard")).to_have_attribute("aria-current", "page")
    check_screen(page, "office-dashboard", desktop=True)

    page.get_by_label("Period").select_option("7")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**/office/?days=7")
    expect(page.locator("figure.chart").last.locator("g.day")).to_have_count(7)
    expect(page.locator("figure.chart").last).to_contain_text("2 in all")
    check_screen(page, "office-dashboard-7-days", desktop=True)

    page.goto(f"{live_server.url}/office/consents/{consent.pk}/")
    expect(page.get_by_role("heading", name="Terms consented to")).to_be_visible()
    expect(page.locator(".terms")).to_contain_text("face swap")
    expect(page.locator("details.canonical pre")).to_be_hidden()  # one click away, not in the way
    page.get_by_text("Canonical JSON consented to, exactly as hashed").click()
    expect(page.locator("details.canonical pre")).to_contain_text('"operations":["face_swap"]')
    expect(page.get_by_role("img", name="Reference photo 1")).to_be_visible()
    check_screen(page, "office-consent-detail", desktop=True)
