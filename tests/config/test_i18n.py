import pytest

pytestmark = pytest.mark.django_db


def test_pages_are_chinese_by_default_and_english_on_request(client, settings):
    settings.LANGUAGE_CODE = "zh-hans"
    chinese = client.get("/signin/").content.decode()
    assert '<html lang="zh-hans">' in chinese
    assert "Sign in with your mobile number" not in chinese  # translated
    english = client.get("/signin/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Sign in with your mobile number" in english
