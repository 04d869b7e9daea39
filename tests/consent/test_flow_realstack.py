"""The Art. 14 flow on PostgreSQL with a real Celery worker doing the SMS, PDF and webhook work."""

import re

import pytest

from consent.models import Artifact, Consent, Notification, RequestItem
from identity.crypto import mask_phone
from identity.models import OutboxMessage
from tests.conftest import office_login, wait_for
from tests.consent.conftest import PERSON_ID, PERSON_NAME, PERSON_PHONE, png_bytes, wav_bytes

pytestmark = [pytest.mark.realstack, pytest.mark.pdf]


def code_after(count: int) -> str:
    message = wait_for(
        lambda: (
            OutboxMessage.objects.filter(to=mask_phone(PERSON_PHONE)).count() > count
            and OutboxMessage.objects.filter(to=mask_phone(PERSON_PHONE)).order_by("-id").first()
        )
    )
    return re.search(r"\b(\d{6})\b", message.body).group(1)


def test_operator_request_to_revocation_through_the_real_worker(celery_worker, client_factory, operator):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.utils import timezone

    office = office_login(client_factory(), operator)
    until = (timezone.localdate() + timezone.timedelta(days=60)).isoformat()
    form = {
        "phone": PERSON_PHONE,
        "language": "en",
        "expires_in_days": "7",
        "end_user_reference": "u-1",
        "end_user_verification_method": "mobile",
        "end_user_verification_reference": "r-1",
        "end_user_verified_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
        "end_user_prompted_to_notify": "on",
        "retention_days": "30",
        "notice_withdrawal": "portal",
        "notice_recipients": [],
        "items-TOTAL_FORMS": "2",
        "items-INITIAL_FORMS": "0",
        "items-MIN_NUM_FORMS": "1",
        "items-MAX_NUM_FORMS": "2",
        "items-0-modality": "face",
        "items-0-operations": ["face_swap"],
        "items-0-purpose": "trailer",
        "items-0-usage": "web",
        "items-0-valid_until": until,
        "items-0-samples": SimpleUploadedFile("f.png", png_bytes()),
        "items-1-modality": "voice",
        "items-1-operations": ["voice_cloning"],
        "items-1-purpose": "narration",
        "items-1-usage": "podcast",
        "items-1-valid_until": until,
        "items-1-samples": SimpleUploadedFile("v.wav", wav_bytes()),
    }
    response = office.post("/office/requests/new/", form)
    assert response.status_code == 302, response.content.decode()[:3000]
    request_sms = wait_for(
        lambda: OutboxMessage.objects.filter(to=mask_phone(PERSON_PHONE)).first()
    )  # sent by the worker
    code = re.search(r"/r/(\S+)", request_sms.body).group(1).rstrip("/")
    assert wait_for(lambda: Notification.objects.filter(state="sent").exists())

    person = client_factory()
    person.post("/signin/", {"phone": PERSON_PHONE})
    person.post("/signin/code/", {"code": code_after(1)})
    person.post("/identity/", {"legal_name": PERSON_NAME, "id_number": PERSON_ID})
    assert person.get(f"/r/{code}/").status_code == 200
    face = RequestItem.objects.get(position=1)
    voice = RequestItem.objects.get(position=2)
    person.post(f"/r/{code}/items/{face.pk}/code/")
    response = person.post(f"/r/{code}/items/{face.pk}/grant/", {"code": code_after(2)})
    assert response.status_code == 302, response.content.decode()[:2000]
    person.post(f"/r/{code}/items/{voice.pk}/deny/", {"reason": ""})

    consent = Consent.objects.get()
    assert wait_for(lambda: Artifact.objects.filter(consent=consent, kind="grant").exists(), timeout=60)
    person.post(f"/me/consents/{consent.pk}/revoke/", {"confirm": "on"})
    consent.refresh_from_db()
    assert consent.state == Consent.State.REVOKED
    assert wait_for(lambda: Artifact.objects.filter(consent=consent, kind="revocation").exists(), timeout=60)
