"""Consent personas: a pending two-item request (face + voice) for Pat, and Pat signed in and verified."""

import base64
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from consent.builders import ID_NUMBER, LEGAL_NAME, build_request, build_verified_person, request_data
from consent.demo_media import demo_png, demo_wav
from consent.services import RequestInput
from identity.crypto import mask_phone
from identity.models import OutboxMessage, Person

PERSON_PHONE = "+8613912345678"
PERSON_NAME = LEGAL_NAME
PERSON_ID = ID_NUMBER


png_bytes = demo_png
wav_bytes = demo_wav


def request_input(phone: str = PERSON_PHONE, **overrides) -> RequestInput:
    """Pat's two-item request (face + voice), as `consent.builders` makes it; any field may be overridden."""
    return request_data(phone=phone, **overrides)


def api_request_body(phone: str = PERSON_PHONE, **overrides) -> dict:
    """What a service posts to /api/v1/requests: one face item, every required field; any may be overridden."""
    return {
        "phone": phone,
        "end_user_reference": "user-1",
        "end_user_verification_method": "mobile",
        "end_user_verification_reference": "chk-1",
        "end_user_verified_at": (timezone.now() - timedelta(hours=1)).isoformat(),
        "end_user_prompted_to_notify": True,
        "retention_days": 30,
        "notice_retention": "Outputs are deleted after the campaign.",
        "notice_withdrawal": "In the portal, any time",
        "items": [
            {
                "modality": "face",
                "operations": ["face_swap"],
                "purpose": "Trailer",
                "usage": "Web",
                "valid_until": (timezone.localdate() + timedelta(days=60)).isoformat(),
                "samples": [{"name": "a.png", "content_base64": base64.b64encode(png_bytes()).decode()}],
            }
        ],
        **overrides,
    }


@pytest.fixture
def pending_request(organization, operator):
    return build_request(actor=operator, organization=organization, phone=PERSON_PHONE)


@pytest.fixture
def pat_verified(db) -> Person:
    """Pat, real-name verified, not signed in anywhere (services are called with her as the actor)."""
    return build_verified_person(phone=PERSON_PHONE, legal_name=PERSON_NAME, id_number=PERSON_ID)


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


def record_uses(consent, count: int, organization, operator, *, refused_every: int = 2) -> None:
    """`count` presentations of the consent's token by a service of `organization`; every n-th is refused."""
    from consent import services
    from consent.models import Presentation

    key, _secret = services.api_key_create(
        actor=operator, organization=organization, name="render farm", scopes=["tokens:verify"]
    )
    for n in range(count):
        refused = n % refused_every == refused_every - 1
        services.presentation_record(
            consent=consent,
            api_key=key,
            modality="face",
            operation="attribute_editing" if refused else "face_swap",
            media_sha256="",
            result=Presentation.Result.INACTIVE if refused else Presentation.Result.ACTIVE,
            reason="operation_not_consented" if refused else "",
            client_ip=None,
        )


@pytest.fixture
def limit_of_two(monkeypatch):
    """Every API key may make two calls a minute (the cache that counts them emptied before and after)."""
    from django.core.cache import cache

    from consent.api.auth import ApiKeyRateThrottle

    cache.clear()
    monkeypatch.setattr(ApiKeyRateThrottle, "THROTTLE_RATES", {"api_key": "2/min"})
    yield
    cache.clear()
