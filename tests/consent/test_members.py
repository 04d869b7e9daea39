"""Members, roles and the organisation's profile, managed by owners in the office."""

from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from consent.builders import build_operator
from identity import services as identity_services
from identity.errors import InvitationInvalid, LastOwner, OwnerRequired
from identity.models import Invitation, Membership, Organization, OutboxMessage, User
from tests.conftest import OPERATOR_PASSWORD, office_login

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a brand new long passphrase 77"


@pytest.fixture
def owner(organization):
    return build_operator(
        actor="test", organization=organization, username="oona", password=OPERATOR_PASSWORD, role="owner"
    )


@pytest.fixture
def owner_client(client_factory, owner):
    return office_login(client_factory(), owner)


@pytest.fixture
def viewer(organization):
    return build_operator(
        actor="test", organization=organization, username="vera", password=OPERATOR_PASSWORD, role="viewer"
    )


def _membership(user, organization) -> Membership:
    return Membership.objects.get(user=user, organization=organization)


def _invite(owner, organization, **kwargs):
    return identity_services.invitation_create(
        actor=owner, organization=organization, **({"role": "operator", "email": "new@example.test"} | kwargs)
    )


# ---- invitations ------------------------------------------------------------------------------


def test_owner_invites_by_email_and_the_link_works_once(owner, organization, mailoutbox):
    invitation, token = _invite(owner, organization, role="viewer")
    assert [m.to for m in mailoutbox] == [["new@example.test"]]
    assert f"/office/invitation/{token}/" in mailoutbox[0].body
    assert len(invitation.token_hash) == 64
    assert token not in invitation.token_hash  # only the hash is stored

    user = identity_services.invitation_accept(token=token, username="newbie", password=NEW_PASSWORD)

    assert _membership(user, organization).role == Membership.Role.VIEWER
    assert user.check_password(NEW_PASSWORD)
    with pytest.raises(InvitationInvalid):
        identity_services.invitation_accept(token=token, username="again", password=NEW_PASSWORD)
    assert not User.objects.filter(username="again").exists()
    actions = set(AuditEvent.objects.filter(organization_id=organization.pk).values_list("action", flat=True))
    assert {"membership.invite", "membership.invitation_accept", "membership.create"} <= actions


def test_owner_invites_by_phone_with_an_sms(owner, organization):
    _invitation, token = _invite(owner, organization, email="", phone="13700001111")
    assert OutboxMessage.objects.filter(channel="sms", body__contains=token).exists()


def test_expired_invitation_is_refused(owner, organization):
    _invitation, token = _invite(owner, organization)
    later = timezone.now() + timedelta(days=identity_services.INVITATION_DAYS, seconds=1)
    with pytest.raises(InvitationInvalid):
        identity_services.invitation_accept(token=token, username="late", password=NEW_PASSWORD, now=later)
    assert not User.objects.filter(username="late").exists()


@pytest.mark.parametrize("role", ["operator", "viewer"])
def test_non_owner_cannot_invite_change_roles_or_remove(organization, operator, owner, role):
    actor = build_operator(actor="test", organization=organization, username=f"x-{role}", role=role)
    target = _membership(operator, organization)
    with pytest.raises(OwnerRequired):
        _invite(actor, organization)
    with pytest.raises(OwnerRequired):
        identity_services.member_role_set(actor=actor, organization=organization, membership_id=target.pk, role="owner")
    with pytest.raises(OwnerRequired):
        identity_services.member_remove(actor=actor, organization=organization, membership_id=target.pk)
    assert not Invitation.objects.exists()
    assert _membership(operator, organization).role == Membership.Role.OPERATOR


def test_owner_of_another_organisation_cannot_touch_these_members(operator, organization, other_organization):
    stranger = build_operator(actor="test", organization=other_organization, username="sam", role="owner")
    target = _membership(operator, organization)
    with pytest.raises(Membership.DoesNotExist):
        identity_services.member_remove(actor=stranger, organization=other_organization, membership_id=target.pk)
    with pytest.raises(OwnerRequired):
        identity_services.member_remove(actor=stranger, organization=organization, membership_id=target.pk)
    assert Membership.objects.filter(pk=target.pk).exists()


# ---- roles and removal --------------------------------------------------------------------------


def test_last_owner_cannot_demote_themself(owner, organization):
    mine = _membership(owner, organization)
    with pytest.raises(LastOwner):
        identity_services.member_role_set(actor=owner, organization=organization, membership_id=mine.pk, role="viewer")
    assert _membership(owner, organization).role == Membership.Role.OWNER


def test_last_owner_cannot_remove_themself(owner, organization):
    mine = _membership(owner, organization)
    with pytest.raises(LastOwner):
        identity_services.member_remove(actor=owner, organization=organization, membership_id=mine.pk)
    assert Membership.objects.filter(pk=mine.pk).exists()


def test_an_owner_may_step_down_when_another_owner_remains(owner, operator, organization):
    identity_services.member_role_set(
        actor=owner, organization=organization, membership_id=_membership(operator, organization).pk, role="owner"
    )
    identity_services.member_remove(
        actor=owner, organization=organization, membership_id=_membership(owner, organization).pk
    )
    assert list(organization.memberships.values_list("role", flat=True)) == ["owner"]
    events = AuditEvent.objects.filter(organization_id=organization.pk)
    assert events.filter(action="membership.role_change", data__to="owner").exists()
    assert events.filter(action="membership.remove", data__user=owner.pk).exists()


def test_owner_changes_a_role_in_the_office(owner_client, operator, organization):
    target = _membership(operator, organization)
    response = owner_client.post(f"/office/members/{target.pk}/role/", {"role": "viewer"})
    assert response.status_code == 302
    assert _membership(operator, organization).role == Membership.Role.VIEWER
    assert AuditEvent.objects.filter(action="membership.role_change", organization_id=organization.pk).exists()


def test_last_owner_demoting_themself_in_the_office_is_told_why(owner_client, owner, organization):
    mine = _membership(owner, organization)
    response = owner_client.post(f"/office/members/{mine.pk}/role/", {"role": "viewer"}, follow=True)
    assert "at least one owner" in response.content.decode()
    assert _membership(owner, organization).role == Membership.Role.OWNER


def test_owner_removes_a_member_in_the_office(owner_client, operator, organization):
    target = _membership(operator, organization)
    assert owner_client.post(f"/office/members/{target.pk}/remove/").status_code == 302
    assert not Membership.objects.filter(pk=target.pk).exists()


def test_operator_gets_403_on_member_changes(operator_client, owner, organization):
    mine = _membership(owner, organization)
    assert operator_client.post("/office/members/invite/", {"email": "a@b.test", "role": "owner"}).status_code == 403
    assert operator_client.post(f"/office/members/{mine.pk}/role/", {"role": "viewer"}).status_code == 403
    assert operator_client.post(f"/office/members/{mine.pk}/remove/").status_code == 403
    assert _membership(owner, organization).role == Membership.Role.OWNER
    assert operator_client.get("/office/members/").status_code == 200  # reading the list is fine


# ---- invitation through the screens ------------------------------------------------------------


def test_invitation_needs_an_address_and_says_so(owner_client):
    response = owner_client.post("/office/members/invite/", {"role": "operator"})
    assert response.status_code == 400
    assert "e-mail address or a mobile number" in response.content.decode()
    assert not Invitation.objects.exists()


def test_accepting_an_invitation_leads_to_totp_enrolment(owner_client, organization, client_factory):
    response = owner_client.post("/office/members/invite/", {"email": "nia@example.test", "role": "viewer"})
    assert response.status_code == 200
    link = response.context["invitation_link"]
    path = link[link.index("/office/invitation/") :]
    newcomer = client_factory()
    assert "Join" in newcomer.get(path).content.decode()
    response = newcomer.post(path, {"username": "nia", "password": NEW_PASSWORD, "password_again": NEW_PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == "/office/otp/enrol/"
    assert newcomer.get("/office/requests/").status_code == 302  # nothing before TOTP
    assert _membership(User.objects.get(username="nia"), organization).role == Membership.Role.VIEWER
    assert client_factory().get(path).status_code == 404  # used


def test_unknown_invitation_link_is_a_404_in_words(client):
    response = client.get("/office/invitation/not-a-token/")
    assert response.status_code == 404
    assert "not valid" in response.content.decode()


# ---- organisation profile ----------------------------------------------------------------------


def _profile(organization, **overrides) -> dict:
    fields = ("name", "uscc", "address", "privacy_contact_name", "privacy_contact_email", "privacy_contact_phone")
    return {name: getattr(organization, name) for name in fields} | overrides


def test_owner_edits_the_profile_and_past_terms_stay_frozen(owner_client, organization, pending_request):
    item = pending_request.items.first()
    terms_before, processor_before = item.terms_json, pending_request.notice_processor
    response = owner_client.post("/office/organization/", _profile(organization, name="Renamed Media Ltd"))
    assert response.status_code == 302
    organization.refresh_from_db()
    assert organization.name == "Renamed Media Ltd"
    item.refresh_from_db()
    pending_request.refresh_from_db()
    assert item.terms_json == terms_before
    assert pending_request.notice_processor == processor_before
    assert "Renamed Media Ltd" not in item.terms_json
    assert AuditEvent.objects.filter(action="organization.update", organization_id=organization.pk).exists()


def test_invalid_uscc_is_an_inline_error_and_changes_nothing(owner_client, organization):
    response = owner_client.post("/office/organization/", _profile(organization, uscc="91110000600037341X"))
    assert response.status_code == 400
    assert 'class="error"' in response.content.decode()
    assert Organization.objects.get(pk=organization.pk).uscc == organization.uscc


def test_another_organisations_uscc_is_refused(owner_client, organization, other_organization):
    response = owner_client.post("/office/organization/", _profile(organization, uscc=other_organization.uscc))
    assert response.status_code == 400
    assert "Another organisation" in response.content.decode()


def test_operator_cannot_edit_the_profile(operator_client, organization):
    response = operator_client.post("/office/organization/", _profile(organization, name="Hijacked"))
    assert response.status_code == 403
    assert Organization.objects.get(pk=organization.pk).name != "Hijacked"


def test_the_profile_shows_the_public_identifier_tokens_name_as_audience(operator_client, organization):
    page = operator_client.get("/office/organization/").content.decode()
    assert str(organization.public_id) in page and "aud" in page


def test_taken_username_is_an_inline_error_and_the_link_stays_valid(owner, organization, client):
    _invitation, token = _invite(owner, organization)
    path = f"/office/invitation/{token}/"
    response = client.post(path, {"username": "OONA", "password": NEW_PASSWORD, "password_again": NEW_PASSWORD})
    assert response.status_code == 200
    assert "username is taken" in response.content.decode()
    assert Invitation.objects.get().accepted_at is None
    assert client.get(path).status_code == 200


def test_a_name_taken_between_check_and_insert_is_an_inline_error_not_a_500(owner, organization, client, monkeypatch):
    """Two invitees accepting with the same name at once: the loser gets the form error, nothing half-made."""
    _invitation, token = _invite(owner, organization)
    User.objects.create_user(username="racer", password=NEW_PASSWORD)
    real_filter = User.objects.filter

    def filter_missing_the_racer(*args, **kwargs):
        # The other acceptance commits after this one's existence check: the check sees nobody.
        return real_filter(*args, **kwargs).none() if "username__iexact" in kwargs else real_filter(*args, **kwargs)

    monkeypatch.setattr(User.objects, "filter", filter_missing_the_racer)
    path = f"/office/invitation/{token}/"
    response = client.post(path, {"username": "racer", "password": NEW_PASSWORD, "password_again": NEW_PASSWORD})
    assert response.status_code == 200
    assert "username is taken" in response.content.decode()
    assert Invitation.objects.get().accepted_at is None
    assert not Membership.objects.filter(user__username="racer").exists()


def test_members_page_reads_in_chinese_by_default(owner_client, settings):
    settings.LANGUAGE_CODE = "zh-hans"
    body = owner_client.get("/office/members/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "邀请成员" in body and "所有者" in body and "更改角色" in body


def test_inviting_someone_who_is_already_a_member_is_refused(owner_client, operator, organization):
    operator.email = "olivia@example.test"
    operator.save(update_fields=["email"])
    response = owner_client.post("/office/members/invite/", {"email": "Olivia@example.test", "role": "viewer"})
    assert response.status_code == 400
    assert "already a member" in response.content.decode()
    assert not Invitation.objects.exists()


def test_owner_withdraws_an_invitation_and_its_link_stops_working(owner_client, owner, organization, client):
    invitation, token = _invite(owner, organization)
    assert owner_client.post(f"/office/members/invitations/{invitation.pk}/revoke/").status_code == 302
    assert client.get(f"/office/invitation/{token}/").status_code == 404
    with pytest.raises(InvitationInvalid):
        identity_services.invitation_accept(token=token, username="late", password=NEW_PASSWORD)
    assert AuditEvent.objects.filter(action="membership.invitation_revoke", organization_id=organization.pk).exists()
    assert list(owner_client.get("/office/members/").context["invitations"]) == []


@pytest.mark.realstack
@pytest.mark.parametrize("round_", range(5))
def test_two_owners_stepping_down_at_once_leave_one_owner(transactional_db, organization, round_):
    import threading

    from django.db import connection

    owners = [
        build_operator(actor="test", organization=organization, username=f"own{i}", role="owner") for i in range(2)
    ]
    barrier = threading.Barrier(2)
    outcomes = []

    def step_down(user):
        try:
            barrier.wait()
            identity_services.member_role_set(
                actor=user, organization=organization, membership_id=_membership(user, organization).pk, role="viewer"
            )
            outcomes.append("demoted")
        except (LastOwner, OwnerRequired):
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=step_down, args=(user,)) for user in owners]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["demoted", "refused"]
    assert organization.memberships.filter(role="owner").count() == 1
