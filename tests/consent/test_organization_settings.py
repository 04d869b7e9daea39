"""Per-organisation consent settings (media binding), kept on the consent side and set by platform staff."""

import pytest
from rest_framework.test import APIClient

from audit.models import AuditEvent
from consent import services
from consent.models import ApiKey, OrganizationSettings, Presentation
from identity.services import person_for_phone, person_identity_verify
from tests.consent.conftest import PERSON_ID, PERSON_NAME, PERSON_PHONE

pytestmark = pytest.mark.django_db


@pytest.fixture
def service(organization):
    key = services.api_key_create(actor="test", organization=organization, name="svc", scopes=list(ApiKey.Scope))[1]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


@pytest.fixture
def consent(pending_request):
    person = person_identity_verify(
        person=person_for_phone(phone=PERSON_PHONE), legal_name=PERSON_NAME, id_number=PERSON_ID
    )
    services.request_open(person=person, code=pending_request.code)
    return services.consent_grant(actor=person, item_id=pending_request.items.get(position=1).pk)


def verify(service, consent):
    body = {"token": consent.token.value, "modality": "face", "operation": "face_swap"}
    return service.post("/api/v1/tokens/verify", body, format="json").json()


def test_staff_turn_on_media_binding_and_a_token_without_media_is_refused(staff_client, organization, service, consent):
    assert verify(service, consent)["active"] is True
    response = staff_client.post(
        "/admin/consent/organizationsettings/add/",
        {"organization": organization.pk, "require_media_binding": "on", "statement_policy": "asked"},
    )
    assert response.status_code == 302
    assert OrganizationSettings.objects.get(organization=organization).require_media_binding is True
    assert verify(service, consent) == {"active": False, "reason": "media_not_bound"}
    assert Presentation.objects.latest("pk").reason == "media_not_bound"
    event = AuditEvent.objects.get(action="organization.settings_update")
    assert (event.organization_id, event.data["require_media_binding"]) == (organization.pk, True)


def test_setting_the_same_value_again_records_nothing(organization):
    services.organization_settings_set(actor="staff", organization=organization, require_media_binding=True)
    services.organization_settings_set(actor="staff", organization=organization, require_media_binding=True)
    assert AuditEvent.objects.filter(action="organization.settings_update").count() == 1


def test_another_organisations_setting_does_not_bind_ours(other_organization, service, consent):
    services.organization_settings_set(actor="staff", organization=other_organization, require_media_binding=True)
    assert verify(service, consent)["active"] is True


def test_staff_require_a_recorded_statement_for_voice_cloning(staff_client, organization):
    response = staff_client.post(
        "/admin/consent/organizationsettings/add/",
        {"organization": organization.pk, "statement_policy": "voice_cloning"},
    )
    assert response.status_code == 302
    assert OrganizationSettings.objects.get(organization=organization).statement_policy == "voice_cloning"
    event = AuditEvent.objects.get(action="organization.settings_update")
    assert event.data == {"organization": organization.pk, "statement_policy": "voice_cloning"}
