"""An operator's own account page: password, backup codes and authenticator, each behind the current code."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.models import AuditEvent
from consent.builders import build_operator
from identity import services as identity_services
from identity.errors import OtpWrong
from tests.conftest import OPERATOR_PASSWORD, totp_now

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a brand new long passphrase 77"


def _device(user) -> TOTPDevice:
    return TOTPDevice.objects.get(user=user, confirmed=True)


def _next_code(user) -> str:
    """A code the device has not accepted yet (each TOTP code works once)."""
    device = _device(user)
    device.last_t = -1
    device.save(update_fields=["last_t"])
    return totp_now(device)


def test_password_change_needs_the_current_code(operator_client, operator):
    response = operator_client.post(
        "/office/account/password/", {"otp": "000000", "password": NEW_PASSWORD, "password_again": NEW_PASSWORD}
    )
    assert response.status_code == 400
    assert "wrong or expired" in response.content.decode()
    operator.refresh_from_db()
    assert operator.check_password(OPERATOR_PASSWORD)
    # The refusal is kept even though the change was not made (and counts towards django-otp's throttle).
    assert AuditEvent.objects.filter(action="operator.otp_failed", target_id=str(operator.pk)).exists()
    assert _device(operator).throttling_failure_count == 1


def test_password_change_with_the_current_code(operator_client, operator):
    response = operator_client.post(
        "/office/account/password/",
        {"otp": _next_code(operator), "password": NEW_PASSWORD, "password_again": NEW_PASSWORD},
    )
    assert response.status_code == 302
    operator.refresh_from_db()
    assert operator.check_password(NEW_PASSWORD)
    assert AuditEvent.objects.filter(action="operator.password_set", data__by="self").exists()


def test_weak_new_password_is_an_inline_error(operator_client, operator):
    response = operator_client.post(
        "/office/account/password/", {"otp": _next_code(operator), "password": "123", "password_again": "123"}
    )
    assert response.status_code == 400
    operator.refresh_from_db()
    assert operator.check_password(OPERATOR_PASSWORD)


def test_backup_codes_are_replaced_only_with_the_current_code(operator_client, operator):
    before = set(StaticToken.objects.filter(device__user=operator).values_list("token", flat=True))
    assert operator_client.post("/office/account/backup-codes/", {"codes-otp": "000000"}).status_code == 400
    assert set(StaticToken.objects.filter(device__user=operator).values_list("token", flat=True)) == before

    with time_machine.travel(timezone.now() + timedelta(seconds=30)):  # past django-otp's back-off
        response = operator_client.post("/office/account/backup-codes/", {"codes-otp": _next_code(operator)})
    assert response.status_code == 200
    after = set(StaticToken.objects.filter(device__user=operator).values_list("token", flat=True))
    assert len(after) == 10
    assert not after & before
    assert set(response.context["codes"]) == after


def test_backup_code_is_not_accepted_as_the_current_code(operator_client, operator):
    code = StaticToken.objects.filter(device__user=operator).first().token
    with pytest.raises(OtpWrong):
        identity_services.account_backup_codes_regenerate(user=operator, otp=code)


def test_new_authenticator_replaces_the_old_one_after_confirmation(operator_client, operator):
    old = _device(operator)
    response = operator_client.post("/office/account/authenticator/", {"totp-otp": _next_code(operator)})
    assert response.status_code == 200
    new = TOTPDevice.objects.get(user=operator, confirmed=False)
    assert _device(operator).pk == old.pk  # the old one still works until the new one is confirmed

    wrong = operator_client.post("/office/account/authenticator/", {"device": new.pk, "token": "000000"})
    assert wrong.status_code == 400
    assert _device(operator).pk == old.pk

    with time_machine.travel(timezone.now() + timedelta(seconds=30)):  # past django-otp's back-off
        response = operator_client.post("/office/account/authenticator/", {"device": new.pk, "token": totp_now(new)})
    assert response.status_code == 302
    assert list(TOTPDevice.objects.filter(user=operator).values_list("pk", "confirmed")) == [(new.pk, True)]
    assert AuditEvent.objects.filter(action="operator.totp_reenrolled", target_id=str(operator.pk)).exists()


def test_reenrolment_cannot_start_without_the_current_code(operator_client, operator):
    response = operator_client.post("/office/account/authenticator/", {"totp-otp": "000000"})
    assert response.status_code == 400
    assert not TOTPDevice.objects.filter(user=operator, confirmed=False).exists()


def test_another_operators_unconfirmed_device_cannot_be_confirmed(operator_client, other_operator):
    foreign = TOTPDevice.objects.create(user=other_operator, name="authenticator", confirmed=False)
    response = operator_client.post("/office/account/authenticator/", {"device": foreign.pk, "token": "1"})
    assert response.status_code == 302
    foreign.refresh_from_db()
    assert not foreign.confirmed


def test_account_page_lists_own_recent_sign_ins_only(
    operator_client, operator, organization, other_organization, client_factory
):
    # A colleague's failed sign-in is on the same trail; a second membership doubles every own event.
    build_operator(actor="test", organization=organization, username="colin", password=OPERATOR_PASSWORD)
    identity_services.membership_set(actor="test", user=operator, organization=other_organization, role="viewer")
    with time_machine.travel(timezone.now() + timedelta(minutes=5)):
        client_factory().post("/office/login/", {"username": operator.username, "password": "wrong"})
        client_factory().post("/office/login/", {"username": "colin", "password": "wrong"})
    response = operator_client.get(f"/office/account/?org={organization.pk}")
    assert response.status_code == 200
    sign_ins = list(response.context["sign_ins"])
    assert [event.action for event in sign_ins] == ["operator.login_failed", "operator.login"]
    assert {event.target_id for event in sign_ins} == {str(operator.pk)}
    assert "wrong password" in response.content.decode()
