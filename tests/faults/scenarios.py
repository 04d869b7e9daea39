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
            if consent.state in (Consent.State.REVOKED, Consent.State.EXPIRED) and bit != 1:
                problems.append(f"{consent.state} consent {consent.pk}: status bit not set")
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


def webhook_outage_day(*, control_url: str, queue: str, revokes: dict, modes: dict, until: float) -> dict:
    """Drive a simulated day of webhook deliveries through the real worker, with the receiver down.

    Simulated time jumps from one due attempt to the next: beat's sweep runs with `now=` at each, the worker
    makes the attempts it queues at that time, and the next step waits until every event due then has been
    tried (or is held back behind an earlier event of its consent) and every claimed attempt is recorded.
    `revokes` maps a consent id to the second (from the start) at which its person withdraws it; `modes`
    maps a second to the receiver's mode from then on. Returns, per event id, the seconds at which each
    attempt was made.
    """
    import time
    import urllib.request
    from datetime import timedelta

    import redis
    import time_machine
    from django.conf import settings
    from django.db.models import Sum
    from django.utils import timezone

    from consent import services, webhooks
    from consent.models import Consent, WebhookDelivery, WebhookEvent

    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)

    def due_and_free(at) -> list[str]:
        """Events an attempt at `at` must have taken: due, and no earlier event of their consent pending."""
        due = WebhookEvent.objects.filter(state=WebhookEvent.State.PENDING, next_attempt_at__lte=at)
        return [e.event_id for e in due if not webhooks._same_consent_pending(e).filter(pk__lt=e.pk).exists()]

    def idle(at) -> bool:
        claimed = WebhookEvent.objects.aggregate(n=Sum("attempts"))["n"] or 0
        if broker.llen(queue) or claimed != WebhookDelivery.objects.count():
            return False
        return at is None or not due_and_free(at)

    def settle(at=None):
        deadline = time.monotonic() + 60
        while not idle(at):
            if time.monotonic() > deadline:
                raise AssertionError("the worker did not finish the step's attempts within 60 s")
            time.sleep(0.02)

    start = timezone.now().replace(microsecond=0)
    attempts: dict[str, list[float]] = {}
    seen: dict[str, int] = {}
    pending_revokes = dict(revokes)
    pending_modes = dict(modes)
    t = start
    steps = 0
    while True:
        offset = (t - start).total_seconds()
        for second in sorted(s for s in pending_modes if s <= offset):
            urllib.request.urlopen(f"{control_url}/{pending_modes.pop(second)}", timeout=5).read()  # noqa: S310
        for consent_id, second in list(pending_revokes.items()):
            if second <= offset:
                consent = Consent.objects.get(pk=consent_id)
                with time_machine.travel(t, tick=False):
                    services.consent_revoke(person=consent.person, consent_id=consent.pk, reason="outage day")
                del pending_revokes[consent_id]
        settle()  # the withdrawal's own queueing runs at the clock's time: not due yet, nothing sent
        webhooks.events_sweep(now=t)
        settle(t)
        steps += 1
        for event_id, made in WebhookEvent.objects.values_list("event_id", "attempts"):
            attempts.setdefault(event_id, []).extend([offset] * (made - seen.get(event_id, 0)))
            seen[event_id] = made
        upcoming = [
            at
            for at in WebhookEvent.objects.filter(state=WebhookEvent.State.PENDING, next_attempt_at__gt=t).values_list(
                "next_attempt_at", flat=True
            )
        ]
        upcoming += [start + timedelta(seconds=s) for s in [*pending_revokes.values(), *pending_modes]]
        if not upcoming or offset > until:
            break
        t = min(upcoming)
    return {"start": start.isoformat(), "steps": steps, "attempts": attempts, "end": offset}
