import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.models import AuditEvent
from identity.models import Membership, Organization, User
from tests.conftest import OPERATOR_PASSWORD, office_login

pytestmark = pytest.mark.django_db


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


def test_staff_password_change_is_in_the_audit_chain_for_the_operators_organisation(
    staff_client, other_operator, other_organization
):
    response = staff_client.post(
        f"/admin/identity/user/{other_operator.pk}/password/",
        {"password1": "a-new-Passw0rd-for-ops", "password2": "a-new-Passw0rd-for-ops", "usable_password": "true"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    other_operator.refresh_from_db()
    assert other_operator.check_password("a-new-Passw0rd-for-ops")
    event = AuditEvent.objects.get(action="operator.password_set", target_id=str(other_operator.pk))
    assert event.organization_id == other_organization.pk
    assert event.data["via"] == "admin"


def test_staff_password_change_with_a_mismatch_changes_nothing_and_records_nothing(staff_client, other_operator):
    response = staff_client.post(
        f"/admin/identity/user/{other_operator.pk}/password/",
        {"password1": "a-new-Passw0rd-for-ops", "password2": "different-Passw0rd-x", "usable_password": "true"},
    )
    assert response.status_code == 200
    assert not AuditEvent.objects.filter(action="operator.password_set").exists()


def test_staff_cannot_delete_an_operator_so_memberships_never_vanish_unaudited(staff_client, other_operator):
    response = staff_client.post(f"/admin/identity/user/{other_operator.pk}/delete/", {"post": "yes"})
    assert response.status_code == 403
    response = staff_client.post(
        "/admin/identity/user/", {"action": "delete_selected", "_selected_action": [other_operator.pk], "post": "yes"}
    )
    assert Membership.objects.filter(user=other_operator).exists()
    assert User.objects.filter(pk=other_operator.pk).exists()


def test_staff_deactivating_an_operator_is_audited_for_their_organisation(
    staff_client, other_operator, other_organization
):
    page = staff_client.get(f"/admin/identity/user/{other_operator.pk}/change/")
    form = page.context["adminform"].form
    data = {name: value for name, value in form.initial.items() if value is not None and name != "password"}
    data.update({"is_active": "", "groups": [], "user_permissions": [], "last_login_0": "", "last_login_1": ""})
    data["date_joined_0"], data["date_joined_1"] = other_operator.date_joined.strftime("%Y-%m-%d %H:%M:%S").split()
    response = staff_client.post(f"/admin/identity/user/{other_operator.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:3000]
    other_operator.refresh_from_db()
    assert not other_operator.is_active
    event = AuditEvent.objects.get(action="operator.update", target_id=str(other_operator.pk))
    assert event.organization_id == other_organization.pk
    assert "is_active" in event.data["fields"]


def test_staff_cannot_move_a_membership_to_another_organisation(staff_client, other_operator, organization):
    membership = Membership.objects.get(user=other_operator)
    old_organization = membership.organization_id
    response = staff_client.post(
        f"/admin/identity/membership/{membership.pk}/change/",
        {"user": other_operator.pk, "organization": organization.pk, "role": "viewer"},
    )
    assert response.status_code == 302
    membership.refresh_from_db()
    assert (membership.organization_id, membership.role) == (old_organization, "viewer")
    assert not Membership.objects.filter(user=other_operator, organization=organization).exists()
    event = AuditEvent.objects.get(action="membership.role_change")
    assert event.organization_id == old_organization


def _sole_owner(operator, organization) -> Membership:
    from identity.services import membership_set

    return membership_set(actor="test", user=operator, organization=organization, role=Membership.Role.OWNER)


def test_staff_cannot_demote_an_organisations_last_owner_and_are_told_why(staff_client, operator, organization):
    owner = _sole_owner(operator, organization)
    changes = AuditEvent.objects.filter(action="membership.role_change").count()
    response = staff_client.post(
        f"/admin/identity/membership/{owner.pk}/change/",
        {"user": operator.pk, "organization": organization.pk, "role": "viewer"},
    )
    assert response.status_code == 200
    assert "at least one owner" in response.content.decode()
    owner.refresh_from_db()
    assert owner.role == Membership.Role.OWNER
    assert AuditEvent.objects.filter(action="membership.role_change").count() == changes


def test_staff_can_demote_an_owner_once_another_owner_exists(staff_client, operator, organization, other_operator):
    from identity.services import membership_set

    owner = _sole_owner(operator, organization)
    membership_set(actor="test", user=other_operator, organization=organization, role=Membership.Role.OWNER)
    response = staff_client.post(
        f"/admin/identity/membership/{owner.pk}/change/",
        {"user": operator.pk, "organization": organization.pk, "role": "viewer"},
    )
    assert response.status_code == 302
    owner.refresh_from_db()
    assert owner.role == Membership.Role.VIEWER


def test_staff_cannot_remove_an_organisations_last_owner_one_by_one_or_in_bulk(staff_client, operator, organization):
    from identity import services
    from identity.errors import LastOwner

    owner = _sole_owner(operator, organization)
    assert staff_client.get(f"/admin/identity/membership/{owner.pk}/delete/").status_code == 403
    assert staff_client.post(f"/admin/identity/membership/{owner.pk}/delete/", {"post": "yes"}).status_code == 403
    bulk = {"action": "delete_selected", "_selected_action": [owner.pk], "post": "yes"}
    assert staff_client.post("/admin/identity/membership/", bulk).status_code == 403
    assert Membership.objects.filter(pk=owner.pk).exists()
    with pytest.raises(LastOwner):
        services.staff_membership_remove(actor="staff", membership=owner)
    assert not AuditEvent.objects.filter(action="membership.remove").exists()
