"""Consent personas: a pending two-item request (face + voice) for Pat, and Pat signed in and verified."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from consent import services
from consent.demo_media import demo_png, demo_wav
from consent.services import ItemInput, RequestInput, SampleInput
from identity.crypto import mask_phone
from identity.models import OutboxMessage, Person

PERSON_PHONE = "+8613912345678"
PERSON_NAME = "张三"
PERSON_ID = "11010519491231002X"


png_bytes = demo_png
wav_bytes = demo_wav


def request_input(phone: str = PERSON_PHONE, **overrides) -> RequestInput:
    today = timezone.localdate()
    values = {
        "phone": phone,
        "end_user_reference": "user-4711",
        "end_user_verification_method": "mobile",
        "end_user_verification_reference": "sms-check-99",
        "end_user_verified_at": timezone.now() - timedelta(hours=1),
        "end_user_prompted_to_notify": True,
        "notice_retention": "Samples deleted 30 days after the consent ends.",
        "notice_withdrawal": "Withdraw at any time in the portal; effective at once.",
        "notice_recipients": "none",
        "items": [
            ItemInput(
                "face",
                ["face_swap"],
                "Film dubbing trailer",
                "Douyin channel",
                today + timedelta(days=90),
                [SampleInput("face.png", png_bytes())],
            ),
            ItemInput(
                "voice",
                ["voice_cloning"],
                "Narration",
                "Podcast",
                today + timedelta(days=90),
                [SampleInput("voice.wav", wav_bytes())],
            ),
        ],
    }
    values.update(overrides)
    return RequestInput(**values)


@pytest.fixture
def pending_request(organization, operator):
    return services.request_create(actor=operator, organization=organization, data=request_input())


def last_sms(phone: str = PERSON_PHONE) -> str:
    return OutboxMessage.objects.filter(to=mask_phone(phone), channel="sms").first().body


def last_code(phone: str = PERSON_PHONE) -> str:
    return re.search(r"\b(\d{6})\b", last_sms(phone)).group(1)


def portal_sign_in(client, phone: str = PERSON_PHONE) -> Person:
    client.post("/signin/", {"phone": phone})
    response = client.post("/signin/code/", {"code": last_code(phone)})
    assert response.status_code == 302, response.content
    return Person.objects.get(phone=phone)


@pytest.fixture
def person_client(client):
    """Pat, signed in on the portal with the request's phone and verified by real name."""
    person = portal_sign_in(client)
    response = client.post("/identity/", {"legal_name": PERSON_NAME, "id_number": PERSON_ID})
    assert response.status_code == 302, response.content
    client.person = Person.objects.get(pk=person.pk)
    return client
