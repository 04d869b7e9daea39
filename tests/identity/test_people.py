import re
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from audit.models import AuditEvent
from identity import crypto, services
from identity.crypto import mask_phone
from identity.errors import CodeRejected, SendLimited
from identity.models import Guardian, IdentityCheck, OutboxMessage, Person, SmsSend

pytestmark = pytest.mark.django_db

PHONE = "+8613912345678"
ADULT_ID = "11010519491231002X"  # born 1949-12-31
NAME = "张三"


def id_with_birth(birth: str, region: str = "110101", seq: str = "123") -> str:
    body = region + birth + seq
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return body + "10X98765432"[sum(int(c) * w for c, w in zip(body, weights, strict=True)) % 11]


def last_code(phone=PHONE) -> str:
    message = OutboxMessage.objects.filter(to=mask_phone(phone), channel="sms").first()
    return re.search(r"\b(\d{6})\b", message.body).group(1)


def sign_in(client, phone=PHONE):
    client.post("/signin/", {"phone": phone})
    response = client.post("/signin/code/", {"code": last_code(phone)})
    assert response.status_code == 302, response.content
    return Person.objects.get(phone=phone)


def test_sign_in_by_sms_code_rotates_the_session(client):
    response = client.post("/signin/", {"phone": "139 1234 5678"})
    assert response["Location"] == "/signin/code/"
    before = client.session.session_key
    sms = OutboxMessage.objects.get()
    assert sms.to == "+86139****5678" and "5分钟" in sms.body  # the outbox keeps a masked number only
    response = client.post("/signin/code/", {"code": last_code()})
    assert response["Location"] == "/me/"
    assert client.session.session_key != before
    person = Person.objects.get(phone=PHONE)
    assert AuditEvent.objects.filter(action="person.signin", target_id=str(person.pk)).exists()


def test_invalid_phone_is_an_inline_error_and_sends_nothing(client):
    response = client.post("/signin/", {"phone": "12345"})
    assert response.status_code == 200
    assert response.context["form"].errors["phone"]
    assert OutboxMessage.objects.count() == 0


def test_code_is_single_use(client):
    person = sign_in(client)
    code = last_code()
    with pytest.raises(CodeRejected, match="no valid code"):
        services.sms_code_verify(person=person, code=code)


def test_code_expires_after_five_minutes(client):
    client.post("/signin/", {"phone": PHONE})
    code = last_code()
    with time_machine.travel(timezone.now() + timedelta(seconds=301)):
        response = client.post("/signin/code/", {"code": code})
    assert response.status_code == 200
    assert "expired" in response.content.decode()


def test_five_wrong_codes_void_the_code_with_growing_back_off(client):
    client.post("/signin/", {"phone": PHONE})
    person = Person.objects.get(phone=PHONE)
    good = last_code()
    wrong = "000000" if good != "000000" else "111111"
    at = timezone.now()
    for failures in range(1, 5):
        with time_machine.travel(at, tick=False):
            with pytest.raises(CodeRejected, match=f"Wrong code.*{5 - failures} tries left"):
                services.sms_code_verify(person=person, code=wrong)
            backoff = 2 ** (failures - 1)  # 1, 2, 4, 8 seconds
            with pytest.raises(CodeRejected, match=f"Wait {backoff} seconds"):
                services.sms_code_verify(person=person, code=good)
        at += timedelta(seconds=backoff)
    with time_machine.travel(at, tick=False):
        with pytest.raises(CodeRejected, match="no longer works"):
            services.sms_code_verify(person=person, code=wrong)
        with pytest.raises(CodeRejected, match="no valid code"):
            services.sms_code_verify(person=person, code=good)
    assert AuditEvent.objects.filter(action="person.code_locked").count() == 1
    assert AuditEvent.objects.filter(action="person.code_failed").count() == 5


def test_one_code_per_minute_per_phone(client):
    client.post("/signin/", {"phone": PHONE})
    person = Person.objects.get(phone=PHONE)
    with pytest.raises(SendLimited, match="another in"):
        services.sms_code_send(person=person, ip="10.0.0.1")
    with time_machine.travel(timezone.now() + timedelta(seconds=61)):
        services.sms_code_send(person=person, ip="10.0.0.1")
    assert SmsSend.objects.count() == 2


def test_at_most_ten_codes_a_day_per_phone():
    person = services.person_for_phone(phone=PHONE)
    start = timezone.now()
    for i in range(10):
        with time_machine.travel(start + timedelta(minutes=2 * i)):
            services.sms_code_send(person=person, ip=f"10.0.0.{i}")
    with time_machine.travel(start + timedelta(minutes=30)), pytest.raises(SendLimited, match="today"):
        services.sms_code_send(person=person, ip="10.0.1.1")
    with time_machine.travel(start + timedelta(days=1, minutes=1)):
        services.sms_code_send(person=person, ip="10.0.1.1")


def test_codes_per_client_address_are_capped(settings):
    settings.SMS_SEND_LIMIT_PER_IP_HOUR = 3
    for i in range(3):
        services.sms_code_send(person=services.person_for_phone(phone=f"+861391234000{i}"), ip="10.9.9.9")
    other = services.person_for_phone(phone="+8613912340009")
    with pytest.raises(SendLimited, match="your network"):
        services.sms_code_send(person=other, ip="10.9.9.9")
    services.sms_code_send(person=other, ip="10.9.9.10")


def test_a_resend_within_the_cooldown_keeps_the_sent_code_working(client):
    client.post("/signin/", {"phone": PHONE})
    response = client.post("/signin/", {"phone": PHONE}, follow=True)
    assert "another in" in response.content.decode()
    assert client.post("/signin/code/", {"code": last_code()})["Location"] == "/me/"


def test_identity_is_verified_and_encrypted_at_rest(client):
    person = sign_in(client)
    response = client.post("/identity/", {"legal_name": NAME, "id_number": ADULT_ID.lower()})
    assert response.status_code == 302
    person.refresh_from_db()
    assert person.is_verified
    assert (person.legal_name, person.id_number) == (NAME, ADULT_ID)
    assert person.id_number_masked == "1****************X"
    assert person.verification.method == "checksum_only"
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM identity_person")
        dump = repr(cursor.fetchall())
    assert NAME not in dump and ADULT_ID not in dump and "19491231" not in dump
    assert AuditEvent.objects.filter(action="person.verify").exists()


def test_bad_id_number_is_an_inline_error_that_keeps_the_name(client):
    sign_in(client)
    response = client.post("/identity/", {"legal_name": NAME, "id_number": "110105194912310021"})
    assert response.status_code == 200
    assert "check character" in str(response.context["form"].errors["id_number"])
    assert NAME in response.content.decode()
    assert not Person.objects.get(phone=PHONE).is_verified


def test_one_id_number_cannot_be_verified_on_two_phones(client, client_factory):
    sign_in(client)
    client.post("/identity/", {"legal_name": NAME, "id_number": ADULT_ID})
    other = client_factory()
    sign_in(other, phone="+8613700000000")
    response = other.post("/identity/", {"legal_name": NAME, "id_number": ADULT_ID})
    assert "already verified with another mobile number" in response.content.decode()


def test_pii_key_rotation_re_encrypts_everything(client, settings):
    person = sign_in(client)
    client.post("/identity/", {"legal_name": NAME, "id_number": ADULT_ID})
    new_key = "k2:" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVoxMjM0NTY="
    settings.PII_ENCRYPTION_KEYS = [new_key, *settings.PII_ENCRYPTION_KEYS]
    assert services.pii_rotate() == 1
    person.refresh_from_db()
    assert crypto.key_id_of(person.legal_name_enc) == "k2"
    settings.PII_ENCRYPTION_KEYS = [new_key]  # the old key is gone and everything still reads
    assert (person.legal_name, person.id_number) == (NAME, ADULT_ID)


def test_child_under_14_is_routed_to_a_guardian_and_both_identities_are_recorded(client):
    person = sign_in(client)
    child_id = id_with_birth("20150601")
    response = client.post("/identity/", {"legal_name": "李小明", "id_number": child_id})
    assert response["Location"] == "/identity/guardian/"
    assert client.get("/me/")["Location"].startswith("/identity/guardian/")
    too_young = client.post(
        "/identity/guardian/",
        {"legal_name": "李哥哥", "id_number": id_with_birth("20100101"), "relationship": "legal_guardian"},
    )
    assert "must be an adult" in too_young.content.decode()
    response = client.post(
        "/identity/guardian/", {"legal_name": "李大明", "id_number": ADULT_ID, "relationship": "parent"}
    )
    assert response.status_code == 302
    guardian = Guardian.objects.get(child=person)
    assert guardian.relationship == "parent"
    assert guardian.id_number_masked == "1****************X"
    assert set(IdentityCheck.objects.filter(person=person, outcome="matched").values_list("subject", flat=True)) == {
        "self",
        "guardian",
    }


def test_portal_session_ends_after_30_minutes_idle(client):
    sign_in(client)
    client.post("/identity/", {"legal_name": NAME, "id_number": ADULT_ID})
    assert client.get("/me/").status_code == 200
    with time_machine.travel(timezone.now() + timedelta(minutes=31)):
        assert client.get("/me/")["Location"].startswith("/signin/")


def test_a_person_is_not_an_operator(client):
    sign_in(client)
    assert client.get("/office/")["Location"].startswith("/office/login/")


def test_a_mismatch_from_the_real_name_service_is_an_inline_error_and_its_evidence_is_kept(client, realname):
    person = sign_in(client)
    response = client.post("/identity/", {"legal_name": "李四", "id_number": ADULT_ID})
    assert response.status_code == 200
    assert "do not match" in response.content.decode()
    assert "李四" in response.content.decode()  # the form keeps what was typed
    person.refresh_from_db()
    assert not person.is_verified
    check = IdentityCheck.objects.get(person=person)
    assert (check.outcome, check.backend, check.method) == ("not_matched", "http", "carrier_three_element")
    assert AuditEvent.objects.filter(action="person.verify", data__outcome="not_matched").exists()


def test_an_unreachable_real_name_service_says_so_and_saves_nothing_but_the_evidence(client, realname):
    person = sign_in(client)
    for _ in range(2):
        realname.script(status=503, json={"error": "down"})
    response = client.post("/identity/", {"legal_name": NAME, "id_number": ADULT_ID})
    assert "cannot be reached right now" in response.content.decode()
    person.refresh_from_db()
    assert not person.is_verified
    assert IdentityCheck.objects.get(person=person).outcome == "unavailable"


def test_the_real_name_service_match_verifies_the_person(client, realname):
    person = sign_in(client)
    client.post("/identity/", {"legal_name": NAME, "id_number": ADULT_ID})
    person.refresh_from_db()
    assert person.is_verified
    assert person.verification.backend == "http"
    assert realname.requests[-1].json["phone"] == PHONE
