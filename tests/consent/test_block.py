"""Blocking an organisation: only one that asked, so a block never reveals a person to anyone else."""

import pytest

from audit.models import AuditEvent
from consent import services
from consent.models import Block, ConsentRequest
from identity.models import Organization
from tests.consent.conftest import request_input

pytestmark = pytest.mark.django_db


def test_blocking_an_organisation_that_never_asked_changes_nothing_and_reveals_nothing(
    person_client, other_organization, other_operator
):
    response = person_client.post(f"/me/organizations/{other_organization.pk}/block/")
    assert response.status_code == 302 and response["Location"] == "/me/"
    assert not Block.objects.exists()
    assert not AuditEvent.objects.filter(action="organization.block").exists()
    # The organisation asks for the first time: a normal request, no "this person blocked you" (409).
    services.request_create(actor=other_operator, organization=other_organization, data=request_input())
    assert ConsentRequest.objects.filter(organization=other_organization).count() == 1


def test_a_never_asking_and_an_unknown_organisation_get_the_same_answer(person_client, other_organization):
    person_client.get("/me/")  # shows (and so consumes) the message left by the sign-in
    never_asked = person_client.post(f"/me/organizations/{other_organization.pk}/block/", follow=True)
    unknown = person_client.post("/me/organizations/999999/block/", follow=True)
    assert never_asked.redirect_chain == unknown.redirect_chain
    assert [str(m) for m in never_asked.context["messages"]] == [str(m) for m in unknown.context["messages"]]


def test_the_block_service_refuses_an_organisation_that_never_asked(person_client, other_organization):
    with pytest.raises(Organization.DoesNotExist):
        services.organization_block(person=person_client.person, organization_id=other_organization.pk)


def test_an_organisation_that_asked_can_be_blocked(person_client, pending_request, organization):
    person_client.post(f"/me/organizations/{organization.pk}/block/")
    assert Block.objects.filter(person=person_client.person, organization=organization).exists()
