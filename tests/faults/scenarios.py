"""Data and checks for the fault suite, run inside a Django process on the stack's database
(`python -c "...; from tests.faults.scenarios import seed; print(json.dumps(seed(...)))"`)."""

from django.db import close_old_connections
from django.db.utils import DatabaseError


def seed(*, consents: int = 3, revoke: int = 1, webhook_url: str = "", phone_base: int = 13800000000) -> dict:
    """An organisation with an operator, an API key, optionally a webhook endpoint, and `consents` granted
    face consents of as many people (the first `revoke` of them withdrawn)."""
    from consent import services
    from consent.builders import (
        build_granted_consent,
        build_operator,
        build_organization,
        build_verified_person,
        face_item,
    )
    from consent.models import ApiKey

    organization = build_organization(actor="faults")
    operator = build_operator(actor="faults", organization=organization, username=f"op{phone_base}", password="x" * 20)
    _key, secret = services.api_key_create(
        actor="faults",
        organization=organization,
        name="faults",
        scopes=list(ApiKey.Scope.values),
    )
    if webhook_url:
        services.webhook_endpoint_set(actor=operator, organization=organization, url=webhook_url)
    made = []
    for n in range(consents):
        person = build_verified_person(phone=f"+86{phone_base + n}", id_number=id_number(phone_base % 1000 + n))
        consent = build_granted_consent(person=person, actor=operator, organization=organization, items=[face_item()])
        if n < revoke:
            services.consent_revoke(person=person, consent_id=consent.pk, reason="faults")
        made.append({"id": consent.pk, "token": consent.token.value, "revoked": n < revoke})
    return {"organization": organization.pk, "operator": operator.pk, "api_key": secret, "consents": made}


def id_number(n: int) -> str:
    """A valid resident ID number (GB 11643 checksum) per person: a number is verified on one phone only."""
    from identity.validators import resident_id_check_char

    first17 = f"11010519491231{n % 1000:03d}"
    return first17 + resident_id_check_char(first17)


def invariants() -> dict:
    """The consistency the fault tests demand after every outage."""
    from consent.models import Consent, ConsentRequest, ConsentToken, Notification

    problems = []
    for consent in Consent.objects.all():
        tokens = ConsentToken.objects.filter(consent=consent).select_related("status_list")
        if consent.state == Consent.State.ACTIVE and tokens.count() != 1:
            problems.append(f"active consent {consent.pk} has {tokens.count()} tokens")
        for token in tokens:
            byte = bytes(token.status_list.bits)[token.status_index // 8]
            bit = (byte >> (token.status_index % 8)) & 1
            if consent.state == Consent.State.REVOKED and bit != 1:
                problems.append(f"revoked consent {consent.pk}: status bit not set")
            if consent.state == Consent.State.ACTIVE and bit != 0:
                problems.append(f"active consent {consent.pk}: status bit set")
    slots = list(ConsentToken.objects.values_list("status_list_id", "status_index"))
    if len(slots) != len(set(slots)):
        problems.append("two tokens share a status slot")
    for request in ConsentRequest.objects.prefetch_related("items__samples"):
        if not request.items.exists():
            problems.append(f"request {request.pk} has no items")
        if not Notification.objects.filter(request=request).exists():
            problems.append(f"request {request.pk} has no notification")
    return {
        "problems": problems,
        "consents": Consent.objects.count(),
        "active": Consent.objects.filter(state=Consent.State.ACTIVE).count(),
        "revoked": Consent.objects.filter(state=Consent.State.REVOKED).count(),
        "requests": ConsentRequest.objects.count(),
    }


def grant_loop(*, rounds: int, phone_base: int, organization_id: int, operator_id: int) -> dict:
    """Grant (and withdraw every third) consents in a loop while the database may go away; count outcomes."""
    import time

    from django.db import connection

    from consent import services
    from consent.builders import build_granted_consent, build_verified_person, face_item
    from consent.models import Organization
    from identity.models import User

    done = failed = granted = 0
    errors: list[str] = []
    for n in range(rounds):
        try:
            organization = Organization.objects.get(pk=organization_id)
            operator = User.objects.get(pk=operator_id)
            person = build_verified_person(phone=f"+86{phone_base + n}", id_number=id_number(500 + n))
            consent = build_granted_consent(
                person=person, actor=operator, organization=organization, items=[face_item()]
            )
            granted += 1
            if n % 3 == 0:
                services.consent_revoke(person=person, consent_id=consent.pk, reason="loop")
            done += 1
        except DatabaseError as exc:
            failed += 1
            errors.append(type(exc).__name__)
            close_old_connections()
            connection.close()
            # Wait for the database before the next round: a loop that spent its rounds during the outage would
            # prove nothing about recovery (the app must reconnect by itself, within a minute).
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    connection.ensure_connection()
                    break
                except DatabaseError:
                    connection.close()
                    time.sleep(0.2)
    return {"done": done, "failed": failed, "granted": granted, "errors": errors}
