"""The data migration that narrows ID masks, drops plaintext birth dates and phones, and its reverse."""

from datetime import date

import pytest
from django.utils import timezone

from identity import crypto
from tests.conftest import migrate

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("latest_schema_afterwards"),
]

BEFORE = [("identity", "0004_person_erased_at"), ("consent", "0003_consent_public_id")]
AFTER = [("identity", "0005_identity_data_minimised"), ("consent", "0004_mask_erased_people_request_phones")]
NUMBER = "11010519491231002X"
PHONE = "+8613912345678"


def test_existing_rows_are_re_masked_and_lose_birth_date_and_phone_and_the_reverse_rebuilds_them():
    apps = migrate(BEFORE)
    user = apps.get_model("identity", "User").objects.create(username="p")
    person = apps.get_model("identity", "Person").objects.create(
        user=user,
        phone=PHONE,
        id_number_enc=crypto.encrypt(NUMBER, context="person.id_number"),
        id_number_masked="110105********002X",
        birth_date=date(1949, 12, 31),
    )
    apps.get_model("identity", "SmsSend").objects.create(phone=PHONE, purpose="signin")
    apps.get_model("identity", "OutboxMessage").objects.create(channel="sms", to=PHONE, body="code 123456")

    apps = migrate(AFTER)
    migrated = apps.get_model("identity", "Person").objects.get(pk=person.pk)
    assert migrated.id_number_masked == "1****************X"
    assert not hasattr(migrated, "birth_date")
    assert apps.get_model("identity", "SmsSend").objects.get().phone_index == crypto.phone_index(PHONE)
    assert apps.get_model("identity", "OutboxMessage").objects.get().to == "+86139****5678"

    apps = migrate(BEFORE)
    restored = apps.get_model("identity", "Person").objects.get(pk=person.pk)
    assert (restored.id_number_masked, restored.birth_date) == ("110105********002X", date(1949, 12, 31))
    migrate(AFTER)  # leave the schema as the rest of the suite expects it


def test_requests_of_people_erased_before_the_fix_get_a_masked_phone():
    apps = migrate(BEFORE)
    user = apps.get_model("identity", "User").objects.create(username="p")
    erased = apps.get_model("identity", "Person").objects.create(user=user, phone="erased-1", erased_at=timezone.now())
    org = apps.get_model("identity", "Organization").objects.create(name="o", uscc="91350100M000100Y43")
    Request = apps.get_model("consent", "ConsentRequest")
    common = {
        "organization": org,
        "created_by_user": user,
        "end_user_reference": "u",
        "end_user_verification_method": "mobile",
        "end_user_verification_reference": "r",
        "end_user_verified_at": timezone.now(),
        "person_phone": PHONE,
        "person_email": "pat@example.test",
        "expires_at": timezone.now(),
    }
    of_erased = Request.objects.create(code="a", person=erased, **common)
    unopened = Request.objects.create(code="b", **common)

    apps = migrate(AFTER)
    Request = apps.get_model("consent", "ConsentRequest")
    assert Request.objects.filter(pk=of_erased.pk, person_phone="+86139****5678", person_email="").exists()
    assert Request.objects.filter(pk=unopened.pk, person_phone=PHONE).exists()  # still reachable, nobody's yet
