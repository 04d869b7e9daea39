"""The public check pages count checks per client address and refuse more with a sentence, 429 and Retry-After."""

import io

import pytest

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
