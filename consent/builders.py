"""Builders for demo data, benchmarks and tests: the cast and its requests, made through the real services.

`seed_demo`, `bench/` and the test fixtures all build their data here, so that one change to how a
request is made (a new required notice field, a new check at grant) is made once. Every builder calls
the services an operator, a service or a person would reach; none writes a model itself, so the data
carry their audit events, tokens and queued side effects exactly as in production.
"""

import secrets
from datetime import date, timedelta

from django.utils import timezone

from consent.demo_media import demo_png, demo_wav
from consent.models import Consent, ConsentRequest, Output, OutputHashBand
from consent.services import (
    ItemInput,
    RequestInput,
    SampleInput,
    consent_grant,
    request_create,
    request_open,
)
from identity.models import Membership, Organization, Person, User
from identity.services import (
    membership_set,
    operator_create,
    organization_create,
    person_for_phone,
    person_identity_verify,
)

__all__ = [
    "build_granted_consent",
    "build_operator",
    "build_organization",
    "build_request",
    "build_verified_person",
    "face_item",
    "request_data",
    "voice_item",
]

# A valid GB 32100 code and GB 11643 number (checksums included), so that the validators accept them.
ORGANIZATION = {
    "name": "示例科技 Example Tech",
    "uscc": "91350100M000100Y43",
    "privacy_contact_name": "Privacy Officer",
    "privacy_contact_email": "privacy@example.test",
    "privacy_contact_phone": "+8613800138000",
    "address": "Fuzhou",
}
LEGAL_NAME = "张三"
ID_NUMBER = "11010519491231002X"


def build_organization(*, actor: str, **fields) -> Organization:
    """An organisation with a valid USCC; any field may be overridden."""
    return organization_create(actor=actor, **(ORGANIZATION | fields))


def build_operator(
    *,
    actor: str,
    organization: Organization,
    username: str,
    password: str | None = None,
    role: str = Membership.Role.OPERATOR,
) -> User:
    """An operator with a membership; without TOTP yet (the office forces enrolment at first sign-in)."""
    user = operator_create(actor=actor, username=username, password=password or secrets.token_urlsafe(16))
    membership_set(actor=actor, user=user, organization=organization, role=role)
    return user


def build_verified_person(*, phone: str, legal_name: str = LEGAL_NAME, id_number: str = ID_NUMBER) -> Person:
    """The person behind `phone`, real-name verified (the configured verifier backend is asked once)."""
    person = person_for_phone(phone=phone)
    if person.is_verified:
        return person
    return person_identity_verify(person=person, legal_name=legal_name, id_number=id_number)


def face_item(
    *,
    operations: list[str] | None = None,
    purpose: str = "Film dubbing trailer",
    usage: str = "Douyin channel",
    valid_until: date | None = None,
    samples: list[SampleInput] | None = None,
) -> ItemInput:
    return ItemInput(
        "face",
        operations or ["face_swap"],
        purpose,
        usage,
        valid_until or timezone.localdate() + timedelta(days=90),
        [SampleInput("face.png", demo_png())] if samples is None else samples,
    )


def voice_item(
    *,
    operations: list[str] | None = None,
    purpose: str = "Narration",
    usage: str = "Podcast",
    valid_until: date | None = None,
    samples: list[SampleInput] | None = None,
) -> ItemInput:
    return ItemInput(
        "voice",
        operations or ["voice_cloning"],
        purpose,
        usage,
        valid_until or timezone.localdate() + timedelta(days=90),
        [SampleInput("voice.wav", demo_wav())] if samples is None else samples,
    )


def request_data(*, phone: str, items: list[ItemInput] | None = None, **fields) -> RequestInput:
    """What an operator or a service submits: a complete notice, and by default a face and a voice item."""
    values = {
        "phone": phone,
        "end_user_reference": "user-4711",
        "end_user_verification_method": "mobile",
        "end_user_verification_reference": "sms-check-99",
        "end_user_verified_at": timezone.now() - timedelta(hours=1),
        "end_user_prompted_to_notify": True,
        "retention_days": 30,
        "notice_retention": "Outputs are deleted when the project ends.",
        "notice_withdrawal": "Withdraw at any time in the portal; effective at once.",
        "notice_recipients": [],
        "items": [face_item(), voice_item()] if items is None else items,
    }
    return RequestInput(**(values | fields))


def build_request(
    *, actor, organization: Organization, phone: str, items: list[ItemInput] | None = None, **fields
) -> ConsentRequest:
    """A pending request, created as an operator (or a service) would; the person is notified after commit."""
    return request_create(actor=actor, organization=organization, data=request_data(phone=phone, items=items, **fields))


def build_granted_consent(
    *,
    person: Person,
    request: ConsentRequest | None = None,
    actor=None,
    organization: Organization | None = None,
    items: list[ItemInput] | None = None,
    position: int = 1,
    **fields,
) -> Consent:
    """`person` (verified) opens `request` (or a new one from `actor` in `organization`) and grants one item.

    The grant transaction without the SMS round trip a real person makes: signing codes are tested in
    tests/consent/test_decisions.py; here they would only slow every builder down.
    """
    if request is None:
        request = build_request(actor=actor, organization=organization, phone=person.phone, items=items, **fields)
    request_open(person=person, code=request.code)
    return consent_grant(actor=person, item_id=request.items.get(position=position).pk)


def build_outputs_like(output: Output, perceptual_hashes: list[str]) -> list[Output]:
    """Copies of a registered `output` with these perceptual hashes (and their index rows), in bulk.

    A registry of many outputs for the "similar" search; each copy has its own SHA-256 and no valid receipt.
    """
    copies = Output.objects.bulk_create(
        Output(
            organization_id=output.organization_id,
            consent_id=output.consent_id,
            presentation_id=output.presentation_id,
            api_key_id=output.api_key_id,
            sha256=secrets.token_hex(32),
            media_type=output.media_type,
            perceptual_hash=value,
            receipt="-",
        )
        for value in perceptual_hashes
    )
    OutputHashBand.objects.bulk_create(
        OutputHashBand(output=copy, band=band, value=value)
        for copy in copies
        for band, value in OutputHashBand.of(copy.perceptual_hash)
    )
    return copies
