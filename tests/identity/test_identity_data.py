"""Identity data at rest (PIPL Art. 51): no plaintext column, alone or combined, rebuilds an ID number or
reaches a phone; the child rule still works to the day from the encrypted ID alone."""

from datetime import date, timedelta

import pytest
from django.db import connection

from identity import crypto, services
from identity.errors import SendLimited
from identity.models import Guardian, OutboxMessage, Person, SmsSend
from tests.identity.test_people import ADULT_ID, NAME, PHONE, id_with_birth, sign_in

pytestmark = pytest.mark.django_db


def table_dump(table: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table}")  # noqa: S608 - fixed table names from the tests
        return repr(cursor.fetchall())


def years_before(day: date, years: int) -> date:
    return day.replace(year=day.year - years) if (day.month, day.day) != (2, 29) else date(day.year - years, 3, 1)


def test_plaintext_columns_show_no_more_than_a_delivery_slip(client):
    person = sign_in(client)
    client.post("/identity/", {"legal_name": NAME, "id_number": ADULT_ID})
    person.refresh_from_db()
    assert person.id_number_masked == "1****************X"
    dump = table_dump("identity_person")
    # Region (110105) and birth date (1949-12-31 in any form) are gone from the clear columns.
    assert "110105" not in dump and "1949" not in dump
    assert person.id_number == ADULT_ID  # still there, encrypted


def test_guardian_columns_show_no_more_than_a_delivery_slip(client):
    person = sign_in(client)
    client.post("/identity/", {"legal_name": "李小明", "id_number": id_with_birth("20150601")})
    client.post("/identity/guardian/", {"legal_name": "李大明", "id_number": ADULT_ID, "relationship": "parent"})
    guardian = Guardian.objects.get(child=person)
    assert guardian.id_number_masked == "1****************X"
    dump = table_dump("identity_guardian")
    assert "110105" not in dump and "1949" not in dump


def test_mask_keeps_at_most_the_first_and_last_character():
    for number in (ADULT_ID, "810000199408230021", "9311001990010100" + "1X"):
        mask = crypto.mask_id_number(number)
        assert len(mask) == 18 and sum(c != "*" for c in mask) == 2 and mask[0] == number[0]


def test_child_who_turns_14_tomorrow_is_still_routed_to_a_guardian(client):
    sign_in(client)
    birth = years_before(services.today(), 14) + timedelta(days=1)
    response = client.post("/identity/", {"legal_name": "李小明", "id_number": id_with_birth(f"{birth:%Y%m%d}")})
    assert response["Location"] == "/identity/guardian/"
    assert Person.objects.get(phone=PHONE).age_on(services.today()) == 13


def test_child_who_turns_14_today_decides_alone(client):
    sign_in(client)
    birth = years_before(services.today(), 14)
    response = client.post("/identity/", {"legal_name": "李小明", "id_number": id_with_birth(f"{birth:%Y%m%d}")})
    assert response["Location"] == "/me/"
    assert Person.objects.get(phone=PHONE).age_on(services.today()) == 14


def test_sms_ledger_and_outbox_keep_no_reachable_phone(client, settings):
    settings.SMS_SEND_LIMIT_PER_PHONE_DAY = 2
    sign_in(client)
    assert "13912345678" not in table_dump("identity_smssend")
    assert "13912345678" not in table_dump("identity_outboxmessage")
    assert OutboxMessage.objects.get().to == "+86139****5678"
    assert SmsSend.objects.get().phone_index == crypto.blind_index(PHONE, purpose="phone")


def test_per_phone_daily_cap_still_counts_by_the_blind_index(settings):
    settings.SMS_SEND_LIMIT_PER_PHONE_DAY = 1
    settings.SMS_SEND_COOLDOWN_SECONDS = 0
    services.sms_code_send(person=services.person_for_phone(phone=PHONE), ip="10.0.0.1")
    with pytest.raises(SendLimited, match="today"):
        services.sms_code_send(person=services.person_for_phone(phone=PHONE), ip="10.0.0.2")
    services.sms_code_send(person=services.person_for_phone(phone="+8613700000000"), ip="10.0.0.3")
