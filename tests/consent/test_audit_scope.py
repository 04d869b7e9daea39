"""Every audit event that concerns an organisation carries its organization_id, and only that organisation sees it.

The action names are collected from the source (every `audit.record(...)` and `operator_event_record(...)`
call), so a new event type fails here until it is classified as an organisation's or the platform's,
and an organisation's event fails the flow test until it really lands on that organisation's trail.
"""

import ast
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from django.test import RequestFactory, override_settings
from django.utils import timezone

from audit.models import AuditEvent
from consent import services, webhooks
from consent.builders import voice_item
from consent.demo_media import demo_wav
from consent.errors import NotForThisPerson
from consent.models import WebhookEvent
from consent.office.selectors import audit_events_for_organization
from consent.services import consent_grant, notify
from consent.tasks import request_notify_task
from identity import services as identity_services
from identity.gateway import GatewayUnavailable
from identity.models import Membership
from identity.password_reset import OperatorPasswordResetForm
from tests.conftest import OPERATOR_PASSWORD, REPO, totp_now
from tests.consent.conftest import PERSON_ID, PERSON_NAME, PERSON_PHONE, request_input

ORGANIZATION_ACTIONS = {
    "api_key.create",
    "api_key.revoke",
    "api_key.rotate",
    "artifact.create",
    "consent.expire",
    "consent.grant",
    "consent.notified",
    "consent.notify_failed",
    "consent.notify_skipped",
    "consent.revoke",
    "item.deny",
    "item.samples_erase",
    "membership.create",
    "membership.invitation_accept",
    "membership.invitation_revoke",
    "membership.invite",
    "membership.remove",
    "membership.role_change",
    "office.export",
    "operator.backup_codes_regenerate",
    "operator.locked",
    "operator.login",
    "operator.login_failed",
    "operator.otp_failed",
    "operator.password_ok",
    "operator.password_reset_request",
    "operator.password_set",
    "operator.totp_enrolled",
    "operator.totp_reenrolled",
    "operator.update",
    "organization.block",
    "organization.create",
    "organization.settings_update",
    "organization.unblock",
    "organization.update",
    "output.consent_withdrawn",
    "output.register",
    "request.cancel",
    "request.create",
    "request.expire",
    "request.notified",
    "request.notify_failed",
    "request.open",
    "request.open_refused",
    "request.resend",
    "statement.approve",
    "statement.check",
    "statement.erase",
    "statement.record",
    "statement.refuse",
    "webhook.failed",
    "webhook_endpoint.create",
    "webhook_endpoint.delete",
    "webhook_endpoint.update",
    "webhook_event.resend",
}
# About a person, the platform's keys, or housekeeping across organisations; no organisation's trail shows them.
PLATFORM_ACTIONS = {
    "consent.logs_purge",
    "guardian.set",
    "guardian.verify",
    "operator.create",  # a new user belongs to no organisation yet; membership.create follows
    "output.display_set",  # the person's own display choice
    "person.code_failed",
    "person.code_locked",
    "person.code_sent",
    "person.create",
    "person.erase",
    "person.export",
    "person.requests_detached",  # the person's own deletion; each refused request has its own event
    "person.signin",
    "person.verify",
    "person.verify_conflict",  # told to the person only, never to an organisation
    "pii.rotate",
    "signing_key.create",
    "signing_key.rotate",
}
# Action names computed at the call site, and what they can be.
DYNAMIC_ACTIONS = {
    "consent/services/notify.py:action": {
        "request.notified",
        "request.notify_failed",
        "consent.notified",
        "consent.notify_failed",
        "consent.notify_skipped",
    },
    "consent/services/statements.py:'statement.approve' if approve else 'statement.refuse'": {
        "statement.approve",
        "statement.refuse",
    },
    "identity/services/people.py:f'{('person' if subject == 'self' else 'guardian')}.verify'": {
        "person.verify",
        "guardian.verify",
    },
}
RECORDERS = {"record", "operator_event_record"}


def emitted_actions() -> set[str]:
    actions = set()
    for path in [*Path(REPO, "consent").rglob("*.py"), *Path(REPO, "identity").rglob("*.py")]:
        if "migrations" in path.parts:
            continue
        relative = path.relative_to(REPO).as_posix()
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute | ast.Name)):
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id
            is_audit = isinstance(node.func, ast.Attribute) and ast.unparse(node.func.value) == "audit"
            if not (name == "operator_event_record" or (name == "record" and is_audit)):
                continue
            if len(node.args) < 2:  # the helper's own definition forwards a variable; skip non-calls
                continue
            action = node.args[1]
            if isinstance(action, ast.Constant):
                actions.add(action.value)
            elif isinstance(action, ast.IfExp) and all(
                isinstance(b, ast.Constant) for b in (action.body, action.orelse)
            ):
                actions |= {action.body.value, action.orelse.value}
            else:
                key = f"{relative}:{ast.unparse(action)}"
                if key == "identity/services/operators.py:action":
                    continue  # operator_event_record passing its own argument on
                assert key in DYNAMIC_ACTIONS, f"classify the computed action name {key}"
                actions |= DYNAMIC_ACTIONS[key]
    return actions


def test_every_action_the_code_can_record_is_classified_as_an_organisations_or_the_platforms():
    emitted = emitted_actions()
    assert emitted - ORGANIZATION_ACTIONS - PLATFORM_ACTIONS == set(), "new audit actions to classify"
    assert (ORGANIZATION_ACTIONS | PLATFORM_ACTIONS) - emitted == set(), "classified actions no code records"
    assert not ORGANIZATION_ACTIONS & PLATFORM_ACTIONS


def _operator_flows(organization):
    """Create, sign in (with failures and a lockout), enrol, change role, reset and remove an operator."""
    rf = RequestFactory()
    olga = identity_services.operator_create(actor="staff", username="olga", password=OPERATOR_PASSWORD)
    identity_services.membership_set(actor="staff", user=olga, organization=organization, role="viewer")
    identity_services.membership_set(actor="staff", user=olga, organization=organization, role="operator")
    for _ in range(5):
        identity_services.operator_authenticate(request=rf.post("/"), username="olga", password="wrong")
    with time_machine.travel(timezone.now() + timedelta(hours=1)):
        identity_services.operator_authenticate(request=rf.post("/"), username="olga", password=OPERATOR_PASSWORD)
    device = identity_services.totp_enrolment_start(user=olga)
    backup_codes = identity_services.totp_enrolment_confirm(user=olga, device_id=device.pk, token=totp_now(device))
    identity_services.operator_otp_verify(user=olga, token=backup_codes[0])
    identity_services.operator_otp_verify(user=olga, token="nope")
    identity_services.operator_set_password(actor="staff", user=olga, password="another horse battery 43")
    olga.email = "olga@example.test"
    olga.save(update_fields=["email"])
    reset = OperatorPasswordResetForm({"email": olga.email})
    assert reset.is_valid()
    reset.save(
        request=rf.post("/"),
        subject_template_name="office/password_reset_subject.txt",
        email_template_name="office/password_reset_email.txt",
        extra_email_context={"site_url": "https://consent.example"},
    )
    identity_services.operator_event_record("staff", "operator.update", olga, {"fields": ["is_active"]})
    identity_services.membership_remove(actor="staff", membership=Membership.objects.get(user=olga))
    _owner_flows(organization)


def _owner_flows(organization):
    """An owner invites a member, who accepts; the owner re-keys their own second factor."""
    owen = identity_services.operator_create(actor="staff", username="owen", password=OPERATOR_PASSWORD)
    identity_services.membership_set(actor="staff", user=owen, organization=organization, role="owner")
    device = identity_services.totp_enrolment_start(user=owen)
    identity_services.totp_enrolment_confirm(user=owen, device_id=device.pk, token=totp_now(device))
    _invitation, token = identity_services.invitation_create(
        actor=owen, organization=organization, role="viewer", email="ivy@example.test"
    )
    identity_services.invitation_accept(token=token, username="ivy", password=OPERATOR_PASSWORD)
    withdrawn, _token = identity_services.invitation_create(
        actor=owen, organization=organization, role="owner", phone="+8613700002222"
    )
    identity_services.invitation_revoke(actor=owen, organization=organization, invitation_id=withdrawn.pk)
    with time_machine.travel(timezone.now() + timedelta(minutes=1)):
        identity_services.account_backup_codes_regenerate(user=owen, otp=totp_now(device))
    with time_machine.travel(timezone.now() + timedelta(minutes=2)):
        new = identity_services.account_totp_reenrol_start(user=owen, otp=totp_now(device))
        identity_services.account_totp_reenrol_confirm(user=owen, device_id=new.pk, token=totp_now(new))


def _request_flows(operator, organization, monkeypatch):
    """Requests, decisions, revocation, blocking, notification failure and expiry for one organisation."""
    first = services.request_create(actor=operator, organization=organization, data=request_input())
    with time_machine.travel(timezone.now() + timedelta(hours=1)):  # past the resend cool-down
        services.request_notify_again(actor=operator, organization=organization, request_id=first.pk)
    stranger = identity_services.person_for_phone(phone="+8613700000000")
    with pytest.raises(NotForThisPerson):
        services.request_open(person=stranger, code=first.code)
    pat = identity_services.person_for_phone(phone=PERSON_PHONE)
    pat = identity_services.person_identity_verify(person=pat, legal_name=PERSON_NAME, id_number=PERSON_ID)
    services.request_open(person=pat, code=first.code)
    consent = consent_grant(actor=pat, item_id=first.items.get(position=1).pk)  # consent.grant, artifact.create
    generator, _secret = services.api_key_create(
        actor=operator, organization=organization, name="gen", scopes=["tokens:verify", "outputs:write"]
    )
    presentation = services.presentation_record(
        consent=consent,
        api_key=generator,
        modality="face",
        operation="face_swap",
        media_sha256="",
        result="active",
        reason="",
        client_ip=None,
    )
    services.output_register(actor=generator, presentation_id=presentation.pk, sha256="a" * 64, media_type="image/png")
    with monkeypatch.context() as broker_down:  # a reminder still queued when the person withdraws
        broker_down.setattr(request_notify_task, "delay", lambda *args: None)
        services.consent_expiry_reminders_queue(now=consent.valid_until - timedelta(days=6))
    services.consent_revoke(person=pat, consent_id=consent.pk, reason="changed my mind")
    notify.notification_deliver(notification_id=consent.notifications.get().pk)  # consent.notify_skipped
    services.organization_block(person=pat, organization_id=organization.pk)
    services.organization_unblock(person=pat, organization_id=organization.pk)

    second = services.request_create(actor=operator, organization=organization, data=request_input("+8613600000001"))
    services.request_cancel(actor=operator, organization=organization, request_id=second.pk)

    third = services.request_create(actor=operator, organization=organization, data=request_input())
    services.request_open(person=pat, code=third.code)
    kept = consent_grant(actor=pat, item_id=third.items.get(position=1).pk)  # left to expire
    services.consent_expiry_reminders_queue(now=kept.valid_until - timedelta(days=6))  # consent.notified
    services.item_deny(person=pat, item_id=third.items.get(position=2).pk, reason="no voice")

    def gateway_down(**kwargs):
        raise GatewayUnavailable("SMS gateway down")

    monkeypatch.setattr(notify, "sms_send", gateway_down)
    fourth = services.request_create(actor=operator, organization=organization, data=request_input("+8613600000002"))
    with pytest.raises(GatewayUnavailable):  # the task's last attempt
        notify.notification_deliver(notification_id=fourth.notifications.latest("pk").pk, final=True)
    services.consents_expire(now=timezone.now() + timedelta(days=400))
    with pytest.raises(GatewayUnavailable):  # the last attempt of the expiry notice: consent.notify_failed
        notify.notification_deliver(notification_id=kept.notifications.get(reason="expired").pk, final=True)
    services.samples_erase_due(now=timezone.now() + timedelta(days=400 + 181))  # item.samples_erase


def _statement_flows(operator, organization):
    """Two requests with a recorded statement: silence is held for review; one refused, one approved, erased."""
    pat = identity_services.person_for_phone(phone=PERSON_PHONE)
    with time_machine.travel(timezone.now() - timedelta(days=2)):  # the day's notification limit, the cool-down
        for approve in (False, True):
            data = request_input(items=[voice_item()], statement_required=True)
            request = services.request_create(actor=operator, organization=organization, data=data)
            services.request_open(person=pat, code=request.code)
            services.statement_start(person=pat, request_id=request.pk, language="en")
            statement = services.statement_record(person=pat, request_id=request.pk, content=demo_wav(seconds=3))
            services.statement_review(
                actor=operator, organization=organization, statement_id=statement.pk, approve=approve, reason="heard"
            )
        services.statement_erase(statement_id=statement.pk, actor="retention", reason="samples erased")


def _key_and_endpoint_flows(operator, organization):
    key, _ = services.api_key_create(actor=operator, organization=organization, name="k", scopes=["requests:write"])
    rotated, _ = services.api_key_rotate(actor=operator, organization=organization, key_id=key.pk)
    services.api_key_revoke(actor=operator, organization=organization, key_id=rotated.pk)
    with override_settings(DEBUG=True):  # plain http to loopback is a development endpoint
        services.webhook_endpoint_set(actor=operator, organization=organization, url="http://127.0.0.1:1/a")
        services.webhook_endpoint_set(actor=operator, organization=organization, url="http://127.0.0.1:1/b")


def _webhook_failure_flows(operator, organization):
    event = WebhookEvent.objects.filter(organization=organization, state=WebhookEvent.State.PENDING).first()
    with time_machine.travel(timezone.now() + timedelta(days=4)):
        webhooks.event_deliver(event_id=event.pk)  # refused connection after the retry window: webhook.failed
    services.webhook_event_resend(actor=operator, organization=organization, event_id=event.pk)
    services.webhook_endpoint_delete(actor=operator, organization=organization)
    services.office_export_record(actor=operator, organization=organization, list_name="consents", filters={}, rows=0)


@pytest.mark.pdf
def test_every_organisation_event_is_on_its_trail_and_on_no_other(
    organization, operator, other_organization, other_operator, monkeypatch
):
    identity_services.organization_update(actor="staff", organization=organization, address="Xiamen")
    services.organization_settings_set(actor="staff", organization=organization, require_media_binding=True)
    _operator_flows(organization)
    _key_and_endpoint_flows(operator, organization)
    _statement_flows(operator, organization)
    _request_flows(operator, organization, monkeypatch)
    _webhook_failure_flows(operator, organization)

    mine = audit_events_for_organization(organization=organization)
    theirs = audit_events_for_organization(organization=other_organization)
    assert ORGANIZATION_ACTIONS - set(mine.values_list("action", flat=True)) == set(), "not on the trail"
    assert (
        not theirs.exclude(target_id=str(other_operator.pk))
        .exclude(action__in=["organization.create", "membership.create"])
        .exists()
    ), "another organisation sees these"
    strays = AuditEvent.objects.filter(action__in=ORGANIZATION_ACTIONS, organization_id__isnull=True)
    strays = strays.exclude(action="operator.login_failed", target_id="")  # an unknown username
    assert list(strays.values_list("action", flat=True)) == []


def test_an_operator_of_two_organisations_signs_in_on_both_trails(operator, organization, other_organization):
    identity_services.membership_set(actor="staff", user=operator, organization=other_organization, role="viewer")
    identity_services.operator_authenticate(
        request=RequestFactory().post("/"), username=operator.username, password="x"
    )
    failures = AuditEvent.objects.filter(action="operator.login_failed")
    assert sorted(failures.values_list("organization_id", flat=True)) == sorted(
        [organization.pk, other_organization.pk]
    )


def test_an_unknown_username_is_on_no_organisations_trail(organization):
    identity_services.operator_authenticate(request=RequestFactory().post("/"), username="nobody", password="x")
    assert AuditEvent.objects.get(action="operator.login_failed").organization_id is None


def test_office_audit_page_shows_the_organisations_events_and_hides_others(
    operator_client, other_operator, other_organization
):
    identity_services.membership_set(actor="staff", user=other_operator, organization=other_organization, role="owner")
    response = operator_client.get("/office/audit/")
    page = response.content.decode()
    assert response.status_code == 200
    assert "operator signed in" in page  # operator.login, in words
    assert "role changed" not in page  # membership.role_change: other_organization's event


def test_every_action_the_code_can_record_reads_in_words_on_the_office_pages():
    from consent.templatetags.consent_labels import AUDIT_ACTIONS

    assert (ORGANIZATION_ACTIONS | PLATFORM_ACTIONS) - set(AUDIT_ACTIONS) == set()
