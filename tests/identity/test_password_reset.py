"""An operator who forgot their password: a link by e-mail, once, within the hour; TOTP still asked."""

import re

import pytest
from django.test import Client

from audit.models import AuditEvent
from tests.conftest import OPERATOR_PASSWORD, enrol_totp

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a new passphrase 2026!"


@pytest.fixture
def olivia(operator):
    operator.email = "olivia@provider.test"
    operator.save(update_fields=["email"])
    enrol_totp(operator)
    return operator


@pytest.fixture
def pat_verified(db):
    from consent.builders import build_verified_person

    return build_verified_person(phone="+8613912340000")


def ask(client, email: str, **extra):
    return client.post("/office/password-reset/", {"email": email}, **extra)


def link_in(message) -> str:
    return re.search(r"https?://\S+/office/password-reset/\S+/\S+/", message.body).group(0)


def test_a_link_by_e_mail_sets_a_new_password_once_and_the_authenticator_is_still_asked(
    client, olivia, settings, mailoutbox
):
    settings.SITE_URL = "https://consent.example"
    response = ask(client, "OLIVIA@provider.test")
    assert response.status_code == 302 and response["Location"] == "/office/password-reset/sent/"
    (message,) = mailoutbox
    assert message.to == ["olivia@provider.test"]
    link = link_in(message)
    assert link.startswith("https://consent.example/office/password-reset/")  # our site, not the Host header
    path = link.removeprefix("https://consent.example")
    form_page = client.get(path, follow=True)
    assert form_page.context["validlink"] is True
    done = client.post(form_page.redirect_chain[-1][0], {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert done.status_code == 302 and done["Location"] == "/office/login/"
    olivia.refresh_from_db()
    assert olivia.check_password(NEW_PASSWORD)
    actions = list(AuditEvent.objects.filter(target_id=str(olivia.pk)).values_list("action", "data"))
    assert ("operator.password_reset_request", {}) in actions
    assert ("operator.password_set", {"via": "reset"}) in actions
    again = Client().get(path, follow=True)
    assert again.context["validlink"] is False
    assert "does not work any more" in again.content.decode("utf-8") or "已失效" in again.content.decode("utf-8")
    signed_in = Client().post("/office/login/", {"username": olivia.username, "password": NEW_PASSWORD})
    assert signed_in.status_code == 302 and signed_in["Location"] == "/office/otp/"  # the second factor next


def test_an_unknown_address_or_a_persons_account_gets_the_same_page_and_no_e_mail(
    client, olivia, pat_verified, mailoutbox
):
    pat_verified.user.email = "pat@example.test"
    pat_verified.user.set_password(OPERATOR_PASSWORD)
    pat_verified.user.save()
    for email in ("nobody@provider.test", "pat@example.test"):
        response = ask(client, email)
        assert response.status_code == 302 and response["Location"] == "/office/password-reset/sent/"
    assert mailoutbox == []


def test_a_persons_account_cannot_take_a_new_password_through_a_crafted_link(client, pat_verified):
    from django.contrib.auth.tokens import default_token_generator
    from django.utils.encoding import force_bytes
    from django.utils.http import urlsafe_base64_encode

    user = pat_verified.user
    user.set_password(OPERATOR_PASSWORD)
    user.save()
    uid, token = urlsafe_base64_encode(force_bytes(user.pk)), default_token_generator.make_token(user)
    path = f"/office/password-reset/{uid}/{token}/"
    assert client.get(path, follow=True).context["validlink"] is False


def test_links_per_address_and_requests_per_network_are_limited(client, olivia, mailoutbox):
    for _ in range(4):
        assert ask(client, "olivia@provider.test").status_code == 302
    assert len(mailoutbox) == 3  # the fourth is not sent, and the page does not say so
    for _ in range(6):
        ask(client, "someone-else@provider.test")
    refused = ask(client, "olivia@provider.test", HTTP_ACCEPT_LANGUAGE="en")
    assert refused.status_code == 429
    assert "Too many reset requests from your network" in refused.content.decode()
    assert ask(client, "olivia@provider.test", REMOTE_ADDR="192.0.2.9").status_code == 302


def test_the_sign_in_page_offers_the_reset(client):
    assert 'href="/office/password-reset/"' in client.get("/office/login/").content.decode()
