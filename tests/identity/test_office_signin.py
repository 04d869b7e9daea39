import re
from datetime import timedelta

import pytest
import time_machine
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.models import AuditEvent
from tests.conftest import OPERATOR_PASSWORD, enrol_totp, totp_now

pytestmark = pytest.mark.django_db


def test_operator_without_verified_totp_gets_no_office_page(client, operator):
    client.post("/office/login/", {"username": operator.username, "password": OPERATOR_PASSWORD})
    response = client.get("/office/")
    assert response.status_code == 302
    assert response["Location"] == "/office/otp/"
    assert client.get("/office/otp/")["Location"] == "/office/otp/enrol/"


def test_anonymous_visitor_is_sent_to_sign_in(client):
    response = client.get("/office/")
    assert response.status_code == 302
    assert response["Location"].startswith("/office/login/")


def test_first_sign_in_forces_totp_enrolment_and_shows_backup_codes(client, operator):
    client.post("/office/login/", {"username": operator.username, "password": OPERATOR_PASSWORD})
    page = client.get("/office/otp/enrol/")
    assert b"data:image/svg+xml" in page.content  # the QR code
    device = TOTPDevice.objects.get(user=operator, confirmed=False)
    wrong = client.post("/office/otp/enrol/", {"token": "000000" if totp_now(device) != "000000" else "111111"})
    assert "does not match" in wrong.content.decode()
    assert re.search(r"wait \d+ seconds", wrong.content.decode())  # django-otp back-off after a wrong code
    with time_machine.travel(timedelta(seconds=3)):
        response = client.post("/office/otp/enrol/", {"token": totp_now(device)})
    assert response.status_code == 200
    assert len(response.context["codes"]) == 10
    assert client.get("/office/").status_code == 200
    assert AuditEvent.objects.filter(action="operator.totp_enrolled", target_id=str(operator.pk)).exists()


@pytest.mark.argon2
def test_operator_signs_in_with_password_and_totp(client, operator):
    assert operator.password.startswith("argon2$")  # the production hasher, not the fast test one
    device = enrol_totp(operator)
    device.last_t = -1
    device.save()
    response = client.post("/office/login/", {"username": operator.username, "password": OPERATOR_PASSWORD})
    assert response["Location"] == "/office/otp/"
    response = client.post("/office/otp/", {"token": totp_now(device)})
    assert response["Location"] == "/office/"
    assert client.get("/office/").status_code == 200
    assert AuditEvent.objects.filter(action="operator.login").count() == 1


def test_backup_code_works_once(client, operator):
    enrol_totp(operator)
    code = StaticDevice.objects.get(user=operator).token_set.first().token
    client.post("/office/login/", {"username": operator.username, "password": OPERATOR_PASSWORD})
    assert client.post("/office/otp/", {"token": code})["Location"] == "/office/"
    client.post("/office/logout/")
    client.post("/office/login/", {"username": operator.username, "password": OPERATOR_PASSWORD})
    response = client.post("/office/otp/", {"token": code})
    assert response.status_code == 200
    assert "wrong or expired" in response.content.decode()


def test_wrong_password_keeps_username_and_says_so(client, operator):
    response = client.post("/office/login/", {"username": operator.username, "password": "nope"})
    assert response.status_code == 200
    assert "Username or password is wrong" in response.content.decode()
    assert f'value="{operator.username}"' in response.content.decode()
    assert AuditEvent.objects.filter(action="operator.login_failed").count() == 1


def test_five_failed_passwords_lock_the_account_even_for_the_right_password(client, operator):
    for _ in range(5):
        client.post("/office/login/", {"username": operator.username, "password": "nope"})
    response = client.post("/office/login/", {"username": operator.username, "password": OPERATOR_PASSWORD})
    assert response.status_code == 200
    assert "Too many failed attempts" in response.content.decode()
    assert AuditEvent.objects.filter(action="operator.locked").count() == 1
    assert AuditEvent.objects.filter(action="operator.login_failed").count() == 5


def test_admin_requires_otp(client, operator):
    operator.is_staff = operator.is_superuser = True
    operator.save()
    client.post("/office/login/", {"username": operator.username, "password": OPERATOR_PASSWORD})
    response = client.get("/admin/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def _fail(client, username, times=5, ip="198.51.100.1"):
    for _ in range(times):
        response = client.post("/office/login/", {"username": username, "password": "nope"}, REMOTE_ADDR=ip)
    return response


def test_a_missing_and_an_existing_user_name_get_the_same_answers(client, operator):
    for name in (operator.username, "nobody-here"):
        first = client.post("/office/login/", {"username": name, "password": "nope"}, REMOTE_ADDR="198.51.100.1")
        assert "Username or password is wrong" in first.content.decode()
        _fail(client, name, times=4)
        locked = client.post("/office/login/", {"username": name, "password": "x"}, REMOTE_ADDR="198.51.100.1")
        assert "Too many failed attempts" in locked.content.decode(), name
    assert AuditEvent.objects.filter(action="operator.locked").count() == 2


def test_a_lock_from_one_address_does_not_lock_the_operator_out_elsewhere(client, client_factory, operator):
    _fail(client, operator.username, ip="203.0.113.66")
    locked = client.post(
        "/office/login/", {"username": operator.username, "password": OPERATOR_PASSWORD}, REMOTE_ADDR="203.0.113.66"
    )
    assert "Too many failed attempts" in locked.content.decode()
    office = client_factory()
    response = office.post(
        "/office/login/", {"username": operator.username, "password": OPERATOR_PASSWORD}, REMOTE_ADDR="198.51.100.7"
    )
    assert response.status_code == 302


def test_attempts_while_locked_write_no_audit_rows(client, operator):
    _fail(client, operator.username, times=20)
    assert AuditEvent.objects.filter(action="operator.login_failed").count() == 5


def test_spraying_many_names_from_one_address_locks_that_address(client, client_factory, operator, settings):
    settings.OPERATOR_LOGIN_MAX_FAILURES = 2  # the address cap is ten times this
    for i in range(20):
        client.post("/office/login/", {"username": f"guess-{i}", "password": "nope"}, REMOTE_ADDR="203.0.113.9")
    response = client.post(
        "/office/login/", {"username": operator.username, "password": OPERATOR_PASSWORD}, REMOTE_ADDR="203.0.113.9"
    )
    assert "Too many failed attempts" in response.content.decode()
    other = client_factory().post(
        "/office/login/", {"username": operator.username, "password": OPERATOR_PASSWORD}, REMOTE_ADDR="198.51.100.7"
    )
    assert other.status_code == 302
