"""The operator's side in a real desktop browser: password + TOTP, then a new request with an uploaded sample."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from consent.demo_media import demo_png
from consent.models import ConsentRequest, Sample
from identity.crypto import mask_phone
from identity.models import OutboxMessage
from tests.conftest import OPERATOR_PASSWORD, enrol_totp, totp_now
from tests.consent.conftest import PERSON_PHONE
from tests.e2e.conftest import path_of

pytestmark = pytest.mark.e2e


def test_operator_signs_in_with_totp_and_creates_a_one_item_request(
    desktop_page, live_server, organization, operator, tmp_path
):
    page = desktop_page
    console = []
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    device = enrol_totp(operator)
    device.last_t = -1  # enrolment used the current code; a TOTP code is accepted only once
    device.save(update_fields=["last_t"])
    sample = tmp_path / "face.png"
    sample.write_bytes(demo_png())

    page.goto(live_server.url + "/office/requests/new/")
    assert path_of(page) == "/office/login/"
    page.get_by_label("Username").fill(operator.username)
    page.get_by_label("Password").fill(OPERATOR_PASSWORD)
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url("**/office/otp/")
    page.get_by_label("6-digit code from your authenticator app").fill(totp_now(device))
    page.get_by_role("button", name="Verify").click()
    page.wait_for_url("**/office/requests/new/")

    page.fill("[name=phone]", PERSON_PHONE)
    page.fill("[name=end_user_reference]", "user-4711")
    page.select_option("[name=end_user_verification_method]", "mobile")
    page.fill("[name=end_user_verification_reference]", "sms-check-99")
    page.fill("[name=end_user_verified_at]", (timezone.localtime() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"))
    page.check("[name=end_user_prompted_to_notify]")
    page.fill("[name=retention_days]", "30")
    page.fill("[name=notice_withdrawal]", "Withdraw at any time in the portal; effective at once.")
    page.select_option("[name=items-0-modality]", "face")
    page.check("[name=items-0-operations][value=face_swap]")
    page.fill("[name=items-0-purpose]", "Film dubbing trailer")
    page.fill("[name=items-0-usage]", "Douyin channel")
    page.fill("[name=items-0-valid_until]", (timezone.localdate() + timedelta(days=90)).isoformat())
    page.set_input_files("[name=items-0-samples]", sample)
    with page.expect_response(re.compile(r"/office/requests/\d+/$")) as detail:
        page.get_by_role("button", name="Create the request and notify the person").click()
    page.wait_for_url(re.compile(r"/office/requests/\d+/$"))

    consent_request = ConsentRequest.objects.get()
    assert path_of(page) == f"/office/requests/{consent_request.pk}/"
    assert page.locator("h1").inner_text().startswith(f"Request #{consent_request.pk}")
    assert "Film dubbing trailer" in page.locator("main").inner_text()
    face = consent_request.items.get()
    assert (face.modality, face.operations) == ("face", ["face_swap"])
    assert Sample.objects.get(item=face).original_name == "face.png"
    sms = OutboxMessage.objects.get(channel="sms", to=mask_phone(PERSON_PHONE))
    assert f"/r/{consent_request.code}" in sms.body

    # The policy is really in force on these pages, and nothing on them needed an exception to it.
    assert "script-src 'self'" in detail.value.headers["content-security-policy"]
    blocked = [line for line in console if "Content Security Policy" in line]
    assert blocked == [], blocked
