"""Data migrations of the services clean-up: idempotency records keep the request, not a stored answer."""

import pytest
from django.utils import timezone

from tests.conftest import migrate

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("latest_schema_afterwards"),
]

IDENTITY = ("identity", "0007_user_lockout_moves_to_the_cache")
MEDIA_BINDING_GONE = ("identity", "0008_organization_media_binding_moves_to_consent")


def _organization(apps, uscc="91350100M000100Y55"):
    return apps.get_model("identity", "Organization").objects.create(name="Org", uscc=uscc)


def test_a_stored_answer_becomes_its_request_and_going_back_rebuilds_a_minimal_answer():
    before = [("consent", "0004_mask_erased_people_request_phones"), IDENTITY]
    after = [("consent", "0005_idempotency_keeps_the_request"), IDENTITY]
    apps = migrate(before)
    organization = _organization(apps)
    operator = apps.get_model("identity", "User").objects.create(username="op")
    request = apps.get_model("consent", "ConsentRequest").objects.create(
        organization=organization,
        created_by_user=operator,
        code="c1",
        person_phone="+8613912345678",
        expires_at=timezone.now(),
        end_user_verified_at=timezone.now(),
    )
    records = apps.get_model("consent", "IdempotencyRecord").objects
    records.create(
        organization=organization, key="a", body_sha256="0" * 64, status_code=201, response={"id": request.pk}
    )
    records.create(organization=organization, key="b", body_sha256="0" * 64, status_code=201, response={"id": 999})

    apps = migrate(after)
    kept = {r.key: r.request_id for r in apps.get_model("consent", "IdempotencyRecord").objects.all()}
    assert kept == {"a": request.pk, "b": None}

    apps = migrate(before)
    restored = apps.get_model("consent", "IdempotencyRecord").objects.get(key="a")
    assert (restored.status_code, restored.response) == (201, {"id": request.pk})


def test_media_binding_moves_to_consent_settings_and_back():
    before = [("consent", "0005_idempotency_keeps_the_request"), IDENTITY]
    after = [("consent", "0006_organization_settings_media_binding"), MEDIA_BINDING_GONE]
    apps = migrate(before)
    binding = _organization(apps)
    binding.require_media_binding = True
    binding.save()
    plain = _organization(apps, uscc="91110000600037341L")

    apps = migrate(after)
    settings = apps.get_model("consent", "OrganizationSettings").objects.all()
    assert [(s.organization_id, s.require_media_binding) for s in settings] == [(binding.pk, True)]
    assert not hasattr(apps.get_model("identity", "Organization").objects.get(pk=plain.pk), "require_media_binding")

    apps = migrate(before)
    restored = dict(apps.get_model("identity", "Organization").objects.values_list("pk", "require_media_binding"))
    assert restored == {binding.pk: True, plain.pk: False}
