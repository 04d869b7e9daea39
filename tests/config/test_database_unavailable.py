"""While the database is away, every surface answers a clean 503 (no debug page, no stack trace)."""

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.db import OperationalError
from django.test import Client

pytestmark = pytest.mark.django_db


def database_gone(*args, **kwargs):
    raise OperationalError("connection to server at 127.0.0.1 failed: Connection refused")


@pytest.fixture
def client_without_reraise():
    return Client(raise_request_exception=False)


@pytest.mark.parametrize("debug", [True, False])
def test_a_database_failure_in_a_middleware_is_a_clean_503_page(client_without_reraise, monkeypatch, settings, debug):
    settings.DEBUG = debug
    client_without_reraise.cookies["sessionid"] = "x" * 32  # the session middleware will read it
    monkeypatch.setattr(SessionStore, "load", database_gone)
    response = client_without_reraise.get("/me/consents/")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    html = response.content.decode()
    assert "Briefly unavailable" in html
    assert "Traceback" not in html and "OperationalError" not in html and "127.0.0.1" not in html


def test_a_database_failure_in_an_api_view_is_the_apis_503_json(client_without_reraise, monkeypatch, organization):
    from consent import services
    from consent.api import views

    secret = services.api_key_create(actor="t", organization=organization, name="k", scopes=["tokens:verify"])[1]
    monkeypatch.setattr(views.TokenVerifyApi, "post", database_gone)
    response = client_without_reraise.post(
        "/api/v1/tokens/verify", {"token": "x"}, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {secret}"
    )
    assert response.status_code == 503
    assert response.json() == {
        "code": "service_unavailable",
        "message": "The service is briefly unavailable; retry in a few seconds.",
        "fields": {},
    }


def test_the_apis_503_follows_accept_language(client_without_reraise, monkeypatch, organization):
    from consent import services
    from consent.api import views

    secret = services.api_key_create(actor="t", organization=organization, name="k", scopes=["tokens:verify"])[1]
    monkeypatch.setattr(views.TokenVerifyApi, "post", database_gone)
    response = client_without_reraise.post(
        "/api/v1/tokens/verify",
        {"token": "x"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
        HTTP_ACCEPT_LANGUAGE="zh-hans",
    )
    assert response.status_code == 503
    assert response.json()["message"] == "服务暂时不可用；请几秒后重试。"


def test_other_errors_stay_errors(client_without_reraise, monkeypatch, settings):
    settings.DEBUG = False
    monkeypatch.setattr(SessionStore, "load", lambda self: 1 / 0)
    client_without_reraise.cookies["sessionid"] = "x" * 32
    assert client_without_reraise.get("/me/consents/").status_code == 500
