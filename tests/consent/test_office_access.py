"""Every office URL, walked from the URLconf, as an outsider, as each role and anonymously.

The URL list comes from consent.office.urls and identity.office_urls, so a new page is walked without
anyone remembering to add it here; a new URL with an id fails `test_every_url_with_an_id_has_an_object`
until it is told which object its id names.
"""

import pytest
from django.test import Client
from django.urls import URLPattern, reverse

from audit.models import AuditEvent
from consent import services
from consent.builders import build_granted_consent, build_operator, build_request, build_verified_person, voice_item
from consent.demo_media import demo_wav
from consent.models import ApiKey, ConsentRequest, Sample, Statement, WebhookEvent
from consent.office import urls as consent_office_urls
from identity import office_urls as identity_office_urls
from identity import services as identity_services
from identity.models import Invitation, Membership
from tests.conftest import OPERATOR_PASSWORD, office_login
from tests.consent.conftest import PERSON_PHONE

pytestmark = pytest.mark.django_db

# Sign-in pages and the invitation link (a secret token, not an id) are reachable before sign-in.
PUBLIC = {"office:login", "office:otp", "office:enrol", "office:logout", "office:invitation"}
PUBLIC |= {"office:password-reset", "office:password-reset-sent", "office:password-reset-confirm"}
# A 404 before sign-in too, so that the link does not confirm that a sample id exists.
NOT_FOUND_BEFORE_SIGN_IN = {"consent_office:sample", "consent_office:statement-recording"}
# Every member's own account: not a write to the organisation.
SELF_SERVICE = {"consent_office:account", "consent_office:account-password"}
SELF_SERVICE |= {"consent_office:account-backup-codes", "consent_office:account-totp"}
# Lists whose person search is posted (kept off URLs): the answer is a redirect back to the list, not a write.
SEARCH_LISTS = {"consent_office:requests", "consent_office:consents", "consent_office:presentations"}
OWNER_ONLY = {"consent_office:member-invite", "consent_office:member-role", "consent_office:member-remove"}
OWNER_ONLY |= {"consent_office:invitation-revoke"}
OWNER_ONLY |= {"consent_office:organization", "consent_office:keys", "consent_office:key-create"}
OWNER_ONLY |= {"consent_office:key-revoke", "consent_office:key-rotate"}
OWNER_ONLY |= {"consent_office:webhooks", "consent_office:webhook-delete"}


def office_patterns() -> list[tuple[str, URLPattern]]:
    return [
        (f"{module.app_name}:{pattern.name}", pattern)
        for module in (identity_office_urls, consent_office_urls)
        for pattern in module.urlpatterns
    ]


def url_for(name: str, pattern: URLPattern, ids: dict[str, int] | None = None) -> str:
    kwargs = {key: (ids or {}).get(name, 1) for key in pattern.pattern.converters}
    if "token" in kwargs:
        kwargs["token"] = "x" * 43
    return reverse(name, kwargs=kwargs)


def _role_client(organization, username: str, role: str) -> Client:
    user = build_operator(
        actor="test", organization=organization, username=username, password=OPERATOR_PASSWORD, role=role
    )
    client = office_login(Client(), user)
    client.user = user
    return client


def _writes_by(client) -> list[str]:
    """What the audit chain says this member changed (signing in is not a change)."""
    events = AuditEvent.objects.filter(actor_type="identity.user", actor_id=str(client.user.pk))
    return list(events.exclude(action__startswith="operator.").values_list("action", flat=True))


@pytest.fixture
def objects(organization, operator) -> dict[str, int]:
    """One object of `organization` for every URL that takes an id, keyed by URL name."""
    person = build_verified_person(phone=PERSON_PHONE)
    consent = build_granted_consent(person=person, actor=operator, organization=organization)
    consent_request = consent.item.request
    pending = build_request(actor=operator, organization=organization, phone="+8613700001111")
    key, _plaintext = services.api_key_create(
        actor=operator, organization=organization, name="farm", scopes=["tokens:verify"]
    )
    event = WebhookEvent.objects.filter(organization=organization).first()
    member = Membership.objects.get(user=operator, organization=organization)
    sample = Sample.objects.filter(item__request=consent_request).first()
    owner = build_operator(actor="test", organization=organization, username="ohne", role="owner")
    invitation, _token = identity_services.invitation_create(
        actor=owner, organization=organization, role="owner", email="eve@example.test"
    )
    statement = _statement_held_for_review(person, organization, operator)
    return {
        "consent_office:statement": statement.pk,
        "consent_office:statement-review": statement.pk,
        "consent_office:statement-recording": statement.pk,
        "consent_office:request": pending.pk,
        "consent_office:request-resend": pending.pk,
        "consent_office:request-cancel": pending.pk,
        "consent_office:sample": sample.pk,
        "consent_office:consent": consent.pk,
        "consent_office:key-revoke": key.pk,
        "consent_office:key-rotate": key.pk,
        "consent_office:webhook-event-resend": event.pk,
        "consent_office:member-role": member.pk,
        "consent_office:member-remove": member.pk,
        "consent_office:invitation-revoke": invitation.pk,
    }


def _statement_held_for_review(person, organization, operator):
    """A recorded statement of silence, which waits for an operator's review."""
    request = build_request(
        actor=operator, organization=organization, phone=PERSON_PHONE, items=[voice_item()], statement_required=True
    )
    services.request_open(person=person, code=request.code)
    services.statement_start(person=person, request_id=request.pk, language="en")
    return services.statement_record(person=person, request_id=request.pk, content=demo_wav(seconds=3))


def _with_ids(objects):
    return [(name, pattern) for name, pattern in office_patterns() if name in objects]


def _unchanged(objects, organization) -> None:
    """Nothing the walk could have written happened."""
    assert ConsentRequest.objects.get(pk=objects["consent_office:request"]).state == ConsentRequest.State.PENDING
    assert ConsentRequest.objects.get(pk=objects["consent_office:request"]).notifications.count() == 1
    assert ApiKey.objects.get(pk=objects["consent_office:key-revoke"]).revoked_at is None
    assert Membership.objects.get(pk=objects["consent_office:member-role"]).role == Membership.Role.OPERATOR
    assert Invitation.objects.get(pk=objects["consent_office:invitation-revoke"]).revoked_at is None
    assert Statement.objects.get(pk=objects["consent_office:statement-review"]).state == Statement.State.NEEDS_REVIEW


def test_every_url_with_an_id_has_an_object(objects):
    with_ids = {name for name, pattern in office_patterns() if pattern.pattern.converters}
    assert with_ids - {"office:invitation", "office:password-reset-confirm"} == set(objects)  # tokens, not ids


def test_owner_of_another_organisation_gets_404_on_every_url_with_an_id(objects, organization, other_organization):
    outsider = _role_client(other_organization, "sam", "owner")
    for name, pattern in _with_ids(objects):
        url = url_for(name, pattern, objects)
        get, post = outsider.get(url), outsider.post(url, {"confirm": "on", "role": "owner"})
        assert get.status_code in {404, 405}, (name, get.status_code)
        assert post.status_code in {404, 405}, (name, post.status_code)
        if post.status_code == 405:  # a read-only page: its GET must then be the 404
            assert get.status_code == 404, name
    _unchanged(objects, organization)


def test_viewer_reads_every_page_with_an_id_and_writes_nothing(objects, organization):
    viewer = _role_client(organization, "vera", "viewer")
    for name, pattern in _with_ids(objects):
        url = url_for(name, pattern, objects)
        get = viewer.get(url)
        post = viewer.post(url, {"confirm": "on", "role": "owner"})
        assert get.status_code in {200, 403, 405}, (name, get.status_code)
        # A read-only page may render a POST as it renders a GET; anything else must refuse it.
        allowed = {403, 404, 405} | ({200} if get.status_code == 200 else set())
        assert post.status_code in allowed, (name, post.status_code)
    _unchanged(objects, organization)
    assert _writes_by(viewer) == []


def test_viewer_posts_to_no_office_url_but_their_own_account(objects, organization):
    viewer = _role_client(organization, "vera", "viewer")
    for name, pattern in office_patterns():
        if name in PUBLIC | SELF_SERVICE:
            continue
        url = url_for(name, pattern, objects)
        allowed = {403, 404, 405} | ({200} if viewer.get(url).status_code == 200 else set())
        response = viewer.post(url, {"confirm": "on", "role": "owner", "name": "x", "url": "http://127.0.0.1:1/"})
        if name in SEARCH_LISTS:
            assert response.status_code == 303 and response["Location"].split("?")[0] == url, name
            continue
        assert response.status_code in allowed, (name, response.status_code)
    _unchanged(objects, organization)
    assert _writes_by(viewer) == []


def test_operator_gets_403_on_every_owner_only_url(objects, organization):
    operator = _role_client(organization, "otto", "operator")
    for name, pattern in office_patterns():
        if name in OWNER_ONLY:
            data = {"role": "owner", "email": "a@b.test", "name": "x", "url": "http://127.0.0.1:1/", "confirm": "on"}
            response = operator.post(url_for(name, pattern, objects), data)
            assert response.status_code == 403, name
    _unchanged(objects, organization)
    assert _writes_by(operator) == []


def test_owner_reaches_every_page_with_an_id(objects, organization):
    owner = _role_client(organization, "oona", "owner")
    for name, pattern in _with_ids(objects):
        response = owner.get(url_for(name, pattern, objects))
        assert response.status_code in {200, 405}, (name, response.status_code)


def test_anonymous_visitor_is_sent_to_sign_in_from_every_office_url(objects):
    anonymous = Client()
    for name, pattern in office_patterns():
        if name in PUBLIC:
            continue
        url = url_for(name, pattern, objects)
        responses = [anonymous.get(url), anonymous.post(url, {"confirm": "on"})]
        answered = [r for r in responses if r.status_code != 405]  # a POST-only page refuses the GET first
        assert answered, name
        for response in answered:
            if name in NOT_FOUND_BEFORE_SIGN_IN:
                assert response.status_code == 404, name
            else:
                assert response.status_code == 302, (name, response.status_code)
                assert response["Location"].startswith("/office/login/"), name
