"""The public check pages count checks per client address and refuse more with a sentence, 429 and Retry-After."""

import io
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

pytestmark = pytest.mark.django_db

HASH = "ab" * 32


def provenance_check(client, **extra):
    return client.post("/provenance/", {"sha256": HASH}, **extra)


def pdf_check(client, **extra):
    return client.post("/verify/", {"file": io.BytesIO(b"not a pdf")}, **extra)


@pytest.mark.parametrize("check", [provenance_check, pdf_check], ids=["provenance", "signed-pdf"])
def test_a_visitor_over_the_limit_is_told_when_to_come_back_and_nothing_is_checked(client, settings, check):
    settings.PUBLIC_CHECK_RATE = "2/min"
    assert [check(client).status_code for _ in range(2)] == [200, 200]
    refused = check(client, HTTP_ACCEPT_LANGUAGE="en")
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 60
    page = refused.content.decode()
    assert "Too many checks from your network. Try again in" in page
    assert refused.context["form"].is_bound is False  # the upload was not read, nothing was checked
    assert refused.context.get("report") is None
    chinese = check(client, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "检查次数过多" in chinese


def test_the_limit_counts_per_address_and_reading_the_page_is_not_a_check(client, settings):
    settings.PUBLIC_CHECK_RATE = "1/min"
    assert provenance_check(client).status_code == 200
    assert provenance_check(client).status_code == 429
    assert client.get("/provenance/").status_code == 200
    assert provenance_check(client, REMOTE_ADDR="192.0.2.7").status_code == 200


@pytest.mark.parametrize("check", [provenance_check, pdf_check], ids=["provenance", "signed-pdf"])
def test_a_visitor_who_waits_retry_after_may_check_again_and_not_a_second_sooner(client, settings, check):
    settings.PUBLIC_CHECK_RATE = "2/min"
    start = timezone.now().replace(microsecond=0) + timedelta(minutes=5)
    with time_machine.travel(start, tick=False) as clock:
        assert check(client).status_code == 200
        clock.shift(10)
        assert check(client).status_code == 200
        clock.shift(10)
        refused = check(client, HTTP_ACCEPT_LANGUAGE="en")
        # The first check leaves the last minute 60 s after it was made: 40 s from now.
        assert refused.status_code == 429 and refused["Retry-After"] == "40"
        assert "Try again in 40 seconds." in refused.content.decode()
        clock.shift(39)
        early = check(client, HTTP_ACCEPT_LANGUAGE="zh-hans")
        assert early.status_code == 429 and early["Retry-After"] == "1"
        assert "请在 1 秒后再试" in early.content.decode()
        clock.shift(1)
        assert check(client).status_code == 200


def test_after_the_rate_was_lowered_the_wait_is_still_the_true_one(client, settings):
    settings.PUBLIC_CHECK_RATE = "3/min"
    start = timezone.now().replace(microsecond=0) + timedelta(minutes=5)
    with time_machine.travel(start, tick=False) as clock:
        for _ in range(3):
            assert provenance_check(client).status_code == 200
            clock.shift(1)
        settings.PUBLIC_CHECK_RATE = "1/min"
        refused = provenance_check(client)
        # All three must leave the last minute; the newest does 60 s after it was made, 2 s before now.
        assert refused.status_code == 429 and refused["Retry-After"] == "59"
        clock.shift(58)
        assert provenance_check(client).status_code == 429
        clock.shift(1)
        assert provenance_check(client).status_code == 200
