import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.models import AuditEvent
from identity.models import Membership, Organization
from tests.conftest import OPERATOR_PASSWORD, office_login

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, operator):
    operator.is_staff = operator.is_superuser = True
    operator.save()
    return office_login(client, operator)


def test_staff_onboard_an_organisation_with_a_validated_uscc(staff_client):
    form = {
        "name": "新机构 New Org",
        "uscc": "91350100M000100Y44",
        "privacy_contact_name": "P",
        "privacy_contact_email": "p@new.test",
        "privacy_contact_phone": "13800138001",
        "address": "Xiamen",
    }
    response = staff_client.post("/admin/identity/organization/add/", form)
    assert response.status_code == 200
    assert "check character" in response.content.decode()
    form["uscc"] = "91110000600037341L"
    response = staff_client.post("/admin/identity/organization/add/", form)
    assert response.status_code == 302
    organization = Organization.objects.get(uscc="91110000600037341L")
    assert organization.privacy_contact_phone == "+8613800138001"
    assert AuditEvent.objects.filter(action="organization.create", target_id=str(organization.pk)).exists()


def test_staff_membership_changes_are_audited(staff_client, operator, other_organization):
    response = staff_client.post(
        "/admin/identity/membership/add/",
        {"user": operator.pk, "organization": other_organization.pk, "role": "viewer"},
    )
    assert response.status_code == 302
    membership = Membership.objects.get(user=operator, organization=other_organization)
    assert membership.role == "viewer"
    assert AuditEvent.objects.filter(action="membership.create", target_id=str(membership.pk)).exists()


def test_admin_shows_people_masked_only(staff_client):
    assert staff_client.get("/admin/identity/person/").status_code == 200
    assert staff_client.get("/admin/identity/person/add/").status_code == 403


def test_admin_without_otp_is_refused(client, operator):
    operator.is_staff = True
    operator.save()
    TOTPDevice.objects.filter(user=operator).delete()
    client.post("/office/login/", {"username": operator.username, "password": OPERATOR_PASSWORD})
    assert client.get("/admin/identity/organization/").status_code == 302


def test_admin_login_is_the_office_sign_in_with_its_lockout(client, operator):
    operator.is_staff = operator.is_superuser = True
    operator.save()
    response = client.get("/admin/login/?next=/admin/identity/organization/")
    assert response.status_code == 302
    assert response["Location"] == "/office/login/?next=%2Fadmin%2Fidentity%2Forganization%2F"
    for _ in range(5):
        client.post("/admin/login/", {"username": operator.username, "password": "nope"})
        client.post("/office/login/", {"username": operator.username, "password": "nope"})
    assert AuditEvent.objects.filter(action="operator.login_failed").count() == 5  # only the office form counts
    response = client.post("/office/login/", {"username": operator.username, "password": OPERATOR_PASSWORD})
    assert "Too many failed attempts" in response.content.decode()


def test_staff_reach_the_admin_page_they_asked_for_after_the_office_sign_in(client, operator):
    operator.is_staff = operator.is_superuser = True
    operator.save()
    client.get("/office/login/?next=/admin/identity/organization/")
    office_login(client, operator)
    assert client.get("/admin/identity/organization/").status_code == 200
