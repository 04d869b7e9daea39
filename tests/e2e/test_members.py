"""An owner invites a colleague, who accepts and must enrol TOTP; the owner then changes the colleague's role."""

import re

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice

from consent.builders import build_operator
from identity.models import Membership, User
from tests.conftest import OPERATOR_PASSWORD, enrol_totp, totp_now
from tests.e2e.axe import FAILING_IMPACTS, violations
from tests.e2e.conftest import path_of

pytestmark = pytest.mark.e2e

WIDE = {"width": 1366, "height": 900}
NEW_PASSWORD = "a brand new long passphrase 77"


def _office_sign_in(page, url: str, user, device) -> None:
    page.goto(url)
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(OPERATOR_PASSWORD)
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url("**/office/otp/")
    page.get_by_label("6-digit code from your authenticator app").fill(totp_now(device))
    page.get_by_role("button", name="Verify").click()


def _serious(page) -> list[str]:
    return [v["id"] for v in violations(page) if v["impact"] in FAILING_IMPACTS]


def test_owner_invites_a_member_who_enrols_totp_then_gets_a_new_role(browser, live_server, organization):
    owner = build_operator(
        actor="test", organization=organization, username="oona", password=OPERATOR_PASSWORD, role="owner"
    )
    device = enrol_totp(owner)
    device.last_t = -1  # enrolment used the current code; a TOTP code is accepted only once
    device.save(update_fields=["last_t"])

    owner_context = browser.new_context(locale="en-US", viewport=WIDE)
    owner_context.set_default_timeout(10_000)
    page = owner_context.new_page()
    _office_sign_in(page, live_server.url + "/office/members/", owner, device)
    page.wait_for_url("**/office/members/")
    assert _serious(page) == []

    page.get_by_label("E-mail").fill("nia@example.test")
    page.get_by_label("Role", exact=True).select_option("viewer")
    page.get_by_role("button", name="Send invitation").click()
    link = page.locator("code.key-value").inner_text().strip()
    assert re.search(r"/office/invitation/[\w-]{40,}/$", link), link
    assert "nia@example.test" in page.content()  # the open invitation is listed

    newcomer_context = browser.new_context(locale="en-US", viewport=WIDE)
    newcomer_context.set_default_timeout(10_000)
    newcomer = newcomer_context.new_page()
    newcomer.goto(link)
    newcomer.get_by_label("Username").fill("nia")
    newcomer.get_by_label("Password", exact=True).fill(NEW_PASSWORD)
    newcomer.get_by_label("Password again").fill(NEW_PASSWORD)
    newcomer.get_by_role("button", name="Accept and continue").click()
    newcomer.wait_for_url("**/office/otp/enrol/")
    nia = User.objects.get(username="nia")
    new_device = TOTPDevice.objects.get(user=nia, confirmed=False)
    newcomer.get_by_label("6-digit code from your authenticator app").fill(totp_now(new_device))
    newcomer.get_by_role("button", name="Confirm").click()
    newcomer.get_by_role("link", name="Continue to the back-office").click()
    newcomer.goto(live_server.url + "/office/members/")
    assert path_of(newcomer) == "/office/members/"
    assert newcomer.get_by_role("button", name="Send invitation").count() == 0  # a viewer reads only

    page.goto(live_server.url + "/office/members/")
    page.get_by_label("Role of nia").select_option("operator")
    page.locator("tr", has_text="nia").get_by_role("button", name="Change role").click()
    page.wait_for_url("**/office/members/")
    assert "nia is now operator." in page.content()
    assert Membership.objects.get(user=nia, organization=organization).role == Membership.Role.OPERATOR
    owner_context.close()
    newcomer_context.close()
