"""A person's copy of their data and deletion of their account."""

import io
import json
import zipfile

import pytest
from django.db import connection

from audit.models import AuditEvent
from consent.models import Consent, RequestItem, Sample
from consent.services import consent_grant
from identity.models import Person
from tests.consent.conftest import PERSON_ID, PERSON_NAME

pytestmark = pytest.mark.django_db


@pytest.fixture
def granted(person_client, pending_request):
    person_client.get(f"/r/{pending_request.code}/")
    consent = consent_grant(actor=person_client.person, item_id=pending_request.items.get(position=1).pk)
    return person_client, consent


@pytest.mark.pdf
def test_export_contains_my_data_and_my_signed_records(granted):
    client, consent = granted
    response = client.post("/me/export/")
    assert response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    data = json.loads(archive.read("data.json"))
    assert data["person"]["legal_name"] == PERSON_NAME and data["person"]["id_number"] == PERSON_ID
    assert data["consents"][0]["id"] == consent.pk
    assert data["consents"][0]["terms_sha256"] == consent.terms_sha256
    [record] = data["consents"][0]["records"]  # the grant's signed record, rendered after commit
    assert archive.read(record).startswith(b"%PDF")
    assert AuditEvent.objects.filter(action="person.export").exists()


def test_export_needs_a_signed_in_person(client):
    assert client.post("/me/export/")["Location"].startswith("/signin/")


def test_delete_needs_confirmation(granted):
    client, _consent = granted
    response = client.post("/me/delete/", {})
    assert "Tick the box" in response.content.decode()
    assert Person.objects.get(pk=client.person.pk).erased_at is None


def test_delete_withdraws_refuses_erases_and_keeps_the_proof(granted, pending_request):
    client, consent = granted
    sample_files = list(Sample.objects.values_list("file", flat=True))
    response = client.post("/me/delete/", {"confirm": "on"})
    assert response["Location"] == "/signin/"
    consent.refresh_from_db()
    assert consent.state == Consent.State.REVOKED and consent.revoke_reason == "account deleted"
    assert consent.terms_json  # the decided terms stay as proof
    assert RequestItem.objects.get(position=2).state == RequestItem.State.DENIED
    person = Person.objects.get(pk=client.person.pk)
    assert person.erased_at and person.legal_name == "" and person.id_number == ""
    assert person.legal_name_masked  # what the signed records show stays
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM identity_person")
        assert PERSON_ID not in repr(cursor.fetchall())
    from django.core.files.storage import default_storage

    assert not any(default_storage.exists(name) for name in sample_files)
    assert set(Sample.objects.values_list("file", flat=True)) == {""}
    assert Sample.objects.exclude(sha256="").count() == len(sample_files)
    assert client.get("/me/")["Location"].startswith("/signin/")
    assert AuditEvent.objects.filter(action="person.erase").exists()


def test_export_lists_what_we_told_the_person_about_each_request(person_client, pending_request):
    person_client.get(f"/r/{pending_request.code}/")
    archive = zipfile.ZipFile(io.BytesIO(person_client.post("/me/export/").content))
    [request] = json.loads(archive.read("data.json"))["requests"]
    [notice] = request["notifications"]
    sent = pending_request.notifications.get()
    assert notice == {
        "reason": "initial",
        "consent": None,
        "state": sent.state,
        "created_at": sent.created_at.isoformat(),
        "sent_at": sent.sent_at.isoformat() if sent.sent_at else None,
    }
