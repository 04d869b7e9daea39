import io
import json

import pytest
from django.core.management import call_command

from consent.models import ApiKey, Consent, ConsentRequest
from identity.models import Organization, User

pytestmark = pytest.mark.django_db


def seed() -> dict:
    out = io.StringIO()
    call_command("seed_demo", "--json", stdout=out)
    return json.loads(out.getvalue())


def test_seed_demo_is_idempotent_and_prints_a_fresh_api_key(settings, tmp_path):
    settings.DEBUG = True
    settings.VAR_DIR = tmp_path
    first, second = seed(), seed()
    assert Organization.objects.count() == 1
    assert User.objects.filter(memberships__isnull=False).count() == 1
    assert ConsentRequest.objects.filter(person_phone=first["pending_request_phone"], state="pending").count() == 1
    assert Consent.objects.filter(state="active").count() == 1
    assert first["pending_request_link"] == second["pending_request_link"]
    assert first["consent_id"] == second["consent_id"]
    assert first["token"] and first["token"] == second["token"]
    assert first["password"] == second["password"]
    assert first["otpauth_uri"] == second["otpauth_uri"]
    assert first["api_key"] != second["api_key"]
    assert ApiKey.objects.count() == 2


def test_printed_demo_credentials_sign_in(client, settings, tmp_path):
    settings.DEBUG = True
    settings.VAR_DIR = tmp_path
    credentials = seed()
    response = client.post("/office/login/", {"username": credentials["username"], "password": credentials["password"]})
    assert response["Location"] == "/office/otp/"
    response = client.post("/office/otp/", {"token": credentials["backup_code"]})
    assert response["Location"] == "/office/"
    assert client.get("/office/").status_code == 200


def test_seed_demo_refuses_to_run_in_production(settings):
    settings.DEBUG = False
    with pytest.raises(Exception, match="DJANGO_DEBUG=1"):
        call_command("seed_demo")
