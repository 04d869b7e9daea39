"""The office dashboard: figures and charts of one organisation, counted in the database."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from consent import services
from consent.models import Consent, ConsentRequest, Notification, WebhookEvent
from identity.models import User
from tests.consent.conftest import record_uses, request_input
from tests.consent.test_office import granted_consent, person_browser, viewer_client  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db

OTHER_PHONE = "+8613700002222"


@pytest.fixture
def scenario(granted_consent, organization, operator, other_organization, other_operator):  # noqa: F811
    """Ours: the granted request still open (voice undecided), one request decided (denied) today, one
    cancelled, a consent ending in 10 days, 3 presentations of which 1 refused. Theirs: the same again."""
    person_browser_request = granted_consent.item.request
    decided = services.request_create(actor=operator, organization=organization, data=request_input(OTHER_PHONE))
    ConsentRequest.objects.filter(pk=decided.pk).update(state=ConsentRequest.State.COMPLETED, closed_at=timezone.now())
    cancelled = services.request_create(actor=operator, organization=organization, data=request_input(OTHER_PHONE))
    services.request_cancel(actor=operator, organization=organization, request_id=cancelled.pk)
    Consent.objects.filter(pk=granted_consent.pk).update(valid_until=timezone.now() + timedelta(days=10))
    record_uses(granted_consent, 3, organization, operator, refused_every=3)
    for _ in range(2):
        theirs = services.request_create(actor=other_operator, organization=other_organization, data=request_input())
    ConsentRequest.objects.filter(pk=theirs.pk).update(state=ConsentRequest.State.COMPLETED, closed_at=timezone.now())
    return person_browser_request


def test_dashboard_counts_what_the_organisation_has(operator_client, scenario):
    response = operator_client.get("/office/")
    assert response.status_code == 200
    assert response.context["counts"] == {
        "open": 1,
        "decided_this_week": 1,
        "active": 1,
        "expiring": 1,
        "refused_24h": 1,
    }


def test_dashboard_never_counts_another_organisations_data(other_operator_client, scenario):
    counts = other_operator_client.get("/office/").context["counts"]
    # Theirs: one open, one decided; none of our consents or presentations.
    assert counts == {"open": 1, "decided_this_week": 1, "active": 0, "expiring": 0, "refused_24h": 0}


def test_a_decision_older_than_a_week_and_a_consent_ending_later_are_not_counted(operator_client, scenario):
    ConsentRequest.objects.filter(state=ConsentRequest.State.COMPLETED).update(
        closed_at=timezone.now() - timedelta(days=8)
    )
    Consent.objects.update(valid_until=timezone.now() + timedelta(days=31))
    counts = operator_client.get("/office/").context["counts"]
    assert (counts["decided_this_week"], counts["expiring"], counts["active"]) == (0, 0, 1)


@pytest.mark.parametrize("days", [7, 30, 90])
def test_charts_draw_one_bar_per_day_of_the_chosen_period(operator_client, scenario, days):
    body = operator_client.get(f"/office/?days={days}").content.decode()
    charts = body.split('<figure class="chart">')[1:]
    assert len(charts) == 2
    for chart in charts:
        assert chart.count('<g class="day">') == days
    requests_chart, presentations_chart = charts
    # Today's bar: 3 requests of ours (open, decided, cancelled); the other organisation's 2 are not drawn.
    assert requests_chart.count('class="bar bar-pending"') == 1
    assert requests_chart.count('class="bar bar-completed"') == 1
    assert requests_chart.count('class="bar bar-cancelled"') == 1
    assert "3 in all" in requests_chart
    assert presentations_chart.count('class="bar bar-active"') == 1
    assert presentations_chart.count('class="bar bar-inactive"') == 1
    assert re.search(r"accepted 2, refused 1", presentations_chart)


def test_an_unknown_period_falls_back_to_30_days(operator_client, organization):
    response = operator_client.get("/office/?days=100000")
    assert response.status_code == 200
    assert response.context["days"] == 30


def test_dashboard_lists_what_needs_attention(operator_client, scenario, organization):
    ConsentRequest.objects.filter(pk=scenario.pk).update(expires_at=timezone.now() + timedelta(hours=20))
    Notification.objects.filter(request=scenario).update(state=Notification.State.FAILED)
    WebhookEvent.objects.filter(organization=organization).update(state=WebhookEvent.State.FAILED, attempts=5)
    response = operator_client.get("/office/")
    assert [r.pk for r in response.context["expiring_requests"]] == [scenario.pk]
    assert {n.request_id for n in response.context["failed_notifications"]} == {scenario.pk}
    assert response.context["failing_webhooks"]
    assert all(e.organization_id == organization.pk for e in response.context["failing_webhooks"])
    body = response.content.decode()
    assert f'href="/office/requests/{scenario.pk}/"' in body
    assert "gave up" in body
    assert "consent granted</a>" in body  # the event's type in words, its code beside it


def test_attention_lists_leave_out_what_is_fine_and_what_is_not_ours(other_operator_client, scenario, organization):
    Notification.objects.filter(request=scenario).update(state=Notification.State.FAILED)
    WebhookEvent.objects.filter(organization=organization).update(state=WebhookEvent.State.FAILED)
    ConsentRequest.objects.filter(pk=scenario.pk).update(expires_at=timezone.now() + timedelta(hours=20))
    response = other_operator_client.get("/office/")
    assert list(response.context["expiring_requests"]) == []
    assert list(response.context["failed_notifications"]) == []
    assert list(response.context["failing_webhooks"]) == []


def test_dashboard_query_count_does_not_grow_with_the_data(operator_client, scenario, organization, operator):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert operator_client.get("/office/?days=90").status_code == 200
        return len(captured)

    before = queries()
    for n in range(3):
        services.request_create(actor=operator, organization=organization, data=request_input(f"+861370000333{n}"))
    record_uses(Consent.objects.get(), 6, organization, operator)
    assert queries() == before
    assert before <= 18, before  # 8 for the figures, lists and charts; the rest sign-in, session, membership


def test_every_office_page_carries_the_same_navigation(operator_client, viewer_client, scenario):  # noqa: F811
    consent = Consent.objects.get()
    for path in (
        "/office/",
        "/office/requests/",
        f"/office/requests/{scenario.pk}/",
        "/office/consents/",
        f"/office/consents/{consent.pk}/",
        "/office/audit/",
        "/office/presentations/",
        "/office/webhooks/",
        "/office/members/",
        "/office/account/",
    ):
        body = operator_client.get(path).content.decode()
        nav = body.split('<nav class="office-nav"')[1].split("</nav>")[0]
        for link in (
            'href="/office/"',
            'href="/office/requests/"',
            'href="/office/consents/"',
            'href="/office/presentations/"',
            'href="/office/audit/"',
            'href="/office/webhooks/"',
            'href="/office/members/"',
            'href="/office/account/"',
        ):
            assert link in nav, (path, link)
    # API keys are the owners' to manage (an operator requests and resends; a viewer reads).
    assert 'href="/office/keys/"' not in operator_client.get("/office/").content.decode()
    assert 'href="/office/keys/"' not in viewer_client.get("/office/").content.decode()


def test_dashboard_of_platform_staff_without_a_membership_says_so(client, db):
    from identity.services import operator_create
    from tests.conftest import OPERATOR_PASSWORD, office_login

    user = operator_create(actor="test", username="nomad", password=OPERATOR_PASSWORD)
    User.objects.filter(pk=user.pk).update(is_staff=True)  # staff pass office_required without a membership
    response = office_login(client, user).get("/office/")
    assert response.status_code == 200
    assert "You are not a member of any organisation yet." in response.content.decode()


def test_dashboard_of_an_organisation_one_is_not_a_member_of_is_404(other_operator_client, organization):
    assert other_operator_client.get(f"/office/?org={organization.pk}").status_code == 404


def test_dashboard_is_for_signed_in_operators_only(client, organization):
    assert client.get("/office/")["Location"].startswith("/office/login/")
