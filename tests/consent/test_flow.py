"""The Art. 14 flow end to end through the test client: request → SMS → sign-in → verify → decide → revoke."""

import json
import re

import pytest

from audit.models import AuditEvent
from consent.models import Consent, ConsentRequest, RequestItem, WebhookEvent
from identity.crypto import mask_phone
from identity.models import OutboxMessage
from tests.consent.conftest import PERSON_PHONE, last_code, last_sms, portal_sign_in

pytestmark = pytest.mark.django_db


def test_whole_flow_grant_face_deny_voice_then_revoke(client, pending_request):
    sms = last_sms()
    link = re.search(r"http://\S+/r/(\S+)", sms)
    assert link, sms
    assert pending_request.organization.name in sms
    path = f"/r/{pending_request.code}/"
    assert 'action="/r/' in client.get(path).content.decode()  # the landing page offers the sign-in
    portal_sign_in(client)
    response = client.get(path)
    assert 'href="/identity/?next=' in response.content.decode()  # the summary, then the real-name step
    client.post("/identity/", {"legal_name": "张三", "id_number": "11010519491231002X"})
    page = client.get(path)
    assert page.status_code == 200
    body = page.content.decode()
    assert "checked" not in body  # nothing pre-selected
    face, voice = pending_request.items.order_by("position")
    assert client.post(f"/r/{pending_request.code}/items/{face.pk}/code/")["Location"].endswith("/grant/")
    assert f"#{face.digest}" in last_sms()
    response = client.post(f"/r/{pending_request.code}/items/{face.pk}/grant/", {"code": last_code()})
    consent = Consent.objects.get()
    assert response["Location"] == f"{path}#item-{voice.pk}"  # on to the item still open
    assert consent.state == Consent.State.ACTIVE
    assert consent.terms_json == face.terms_json
    assert json.loads(consent.terms_json)["modality"] == "face"
    assert consent.evidence["person"]["outcome"] == "matched"
    response = client.post(f"/r/{pending_request.code}/items/{voice.pk}/deny/", {"reason": "not my voice"})
    assert response["Location"] == f"{path}done/"
    voice.refresh_from_db()
    assert voice.state == RequestItem.State.DENIED and voice.deny_reason == "not my voice"
    pending_request.refresh_from_db()
    assert pending_request.state == ConsentRequest.State.COMPLETED
    assert Consent.objects.count() == 1
    response = client.post(f"/me/consents/{consent.pk}/revoke/", {"confirm": "on"})
    consent.refresh_from_db()
    assert consent.state == Consent.State.REVOKED
    assert set(WebhookEvent.objects.values_list("type", flat=True)) == {
        "consent.granted",
        "consent.denied",
        "consent.revoked",
    }
    actions = list(AuditEvent.objects.values_list("action", flat=True))
    for action in (
        "request.create",
        "request.notified",
        "request.open",
        "consent.grant",
        "item.deny",
        "consent.revoke",
    ):
        assert action in actions


def test_request_sms_names_the_organisation_and_the_link(pending_request):
    sms = OutboxMessage.objects.get(to=mask_phone(PERSON_PHONE), channel="sms")
    assert pending_request.organization.name in sms.body
    assert f"/r/{pending_request.code}" in sms.body
