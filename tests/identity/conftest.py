import pytest

from tests.identity.fake_gateway import FakeGateway

APP_ID = "consent-test"
SECRET = "gateway-test-secret"


@pytest.fixture
def fake(monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    server = FakeGateway(app_id=APP_ID, secret=SECRET).start()
    yield server
    server.stop()


@pytest.fixture
def realname(settings, fake):
    settings.REALNAME_BACKEND = "identity.realname.HttpRealNameVerifier"
    settings.REALNAME_HTTP_METHOD = "carrier_three_element"
    fake.configure(settings, "REALNAME_HTTP", "/realname")
    return fake


@pytest.fixture
def sms(settings, fake):
    settings.SMS_BACKEND = "identity.sms.HttpSmsBackend"
    fake.configure(settings, "SMS_HTTP", "/sms")
    return fake
