# ruff: noqa: F811  (pytest fixtures imported from test_office)
"""The office lists: search by phone or ID number, filters, the presentations page and the audited CSV export."""

import csv
import io
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from audit.models import AuditEvent
from consent.builders import build_request
from consent.models import Consent, Presentation, WebhookEvent
from consent.office import selectors as office_selectors
from identity.crypto import mask_id_number, mask_phone
from tests.consent.conftest import PERSON_ID, last_code, record_uses
from tests.consent.test_office import (  # noqa: F401  (fixtures)
    api_key,
    granted_consent,
    person_browser,
    viewer_client,
)

pytestmark = pytest.mark.django_db

OTHER_ID = "110101199003074477"


def grant_face(browser, consent_request) -> Consent:
    face = consent_request.items.get(position=1)
    assert browser.get(f"/r/{consent_request.code}/").status_code == 200
    browser.post(f"/r/{consent_request.code}/items/{face.pk}/code/")
    response = browser.post(f"/r/{consent_request.code}/items/{face.pk}/grant/", {"code": last_code()})
    assert response.status_code == 302, response.content
    return Consent.objects.get(item=face)


@pytest.fixture
def foreign_consent(granted_consent, person_browser, other_organization, other_operator):
    """The same person's consent to another organisation."""
    other_request = build_request(
        actor=other_operator, organization=other_organization, phone=granted_consent.person.phone
    )
    return grant_face(person_browser, other_request)


def search(client, path: str, csv: bool = False, **filters):
    """The filter form as a browser sends it: posted, then the redirect followed (the CSV link adds format)."""
    response = client.post(path, filters)
    assert response.status_code == 303, response.status_code
    location = response["Location"]
    if csv:
        location += ("&" if "?" in location else "?") + "format=csv"
    return client.get(location)


def read_csv(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith("\ufeff")
    return list(csv.reader(io.StringIO(body[1:])))


# ---- search --------------------------------------------------------------------------------------


def test_id_number_search_finds_the_persons_consents_of_this_organisation_only(operator_client, foreign_consent):
    ours = Consent.objects.exclude(pk=foreign_consent.pk).get()
    page = search(operator_client, "/office/consents/", q=PERSON_ID).context["page"]
    assert [c.pk for c in page] == [ours.pk]


def test_id_number_search_goes_through_the_blind_index_and_a_wrong_number_finds_nobody(
    operator_client, granted_consent
):
    assert list(search(operator_client, "/office/consents/", q=OTHER_ID).context["page"]) == []
    # A prefix of the real number is neither a valid ID number nor a phone fragment: nothing.
    assert list(search(operator_client, "/office/consents/", q=PERSON_ID[:10]).context["page"]) == []


def test_a_searched_person_never_enters_a_url_of_the_list_its_pages_or_its_export(
    operator_client, granted_consent, organization, operator
):
    for n in range(3):
        build_request(actor=operator, organization=organization, phone=f"+861385678{n:04d}")
    response = operator_client.post("/office/requests/", {"q": "138 5678", "phone": "1385678", "state": "open"})
    location = response["Location"]
    assert response.status_code == 303
    assert "5678" not in location and "q=" not in location and "phone=" not in location
    assert "state=open" in location and "search=" in location
    page = operator_client.get(location)
    html = page.content.decode()
    assert 'method="post"' in html and 'value="138 5678"' in html  # the form still shows what was typed
    assert len(page.context["page"]) == 3
    links = [part.split('"')[0] for part in html.split('href="')[1:]]
    assert links and not [link for link in links if "5678" in link]


def test_a_person_in_the_url_is_ignored_and_an_unknown_search_reference_says_so(operator_client, granted_consent):
    everyone = operator_client.get("/office/consents/", {"q": OTHER_ID})
    assert len(everyone.context["page"]) == 1  # not filtered by a URL: links must not carry a person
    response = operator_client.get("/office/consents/", {"search": "no-such-reference"})
    assert "That search has expired" in response.content.decode()


def test_one_operators_search_reference_is_nothing_in_another_session(operator_client, viewer_client, granted_consent):
    location = operator_client.post("/office/consents/", {"q": OTHER_ID})["Location"]
    assert operator_client.get(location).context["page"].object_list.count() == 0
    assert len(viewer_client.get(location).context["page"]) == 1


def test_person_search_in_the_selector_never_crosses_organisations(foreign_consent, organization):
    consents = office_selectors.consents_search(Consent.objects.filter(organization=organization), query=PERSON_ID)
    assert foreign_consent not in consents
    assert consents.count() == 1


def test_request_search_by_masked_phone_and_by_fragment(operator_client, granted_consent, organization, operator):
    build_request(actor=operator, organization=organization, phone="+8613700001111")
    ours = granted_consent.item.request_id
    for query in ("+86139****5678", "139 1234", PERSON_ID):
        page = search(operator_client, "/office/requests/", q=query).context["page"]
        assert [r.pk for r in page] == [ours], query


# ---- presentations -------------------------------------------------------------------------------


def test_presentations_list_every_use_in_words_and_filters_by_result_operation_key_and_consent(
    operator_client, granted_consent, organization, operator
):
    record_uses(granted_consent, 4, organization, operator)
    response = operator_client.get("/office/presentations/")
    assert response.status_code == 200
    assert len(response.context["page"]) == 4
    assert "refused" in response.content.decode()
    assert "operation_not_consented" not in response.content.decode()
    refused = operator_client.get("/office/presentations/", {"result": "inactive"}).context["page"]
    assert {p.result for p in refused} == {Presentation.Result.INACTIVE}
    assert len(refused) == 2
    swaps = operator_client.get("/office/presentations/", {"operation": "face_swap"}).context["page"]
    assert {p.operation for p in swaps} == {"face_swap"}
    key = Presentation.objects.first().api_key
    assert len(operator_client.get("/office/presentations/", {"api_key": key.pk}).context["page"]) == 4
    assert len(operator_client.get("/office/presentations/", {"consent": granted_consent.pk + 1}).context["page"]) == 0
    assert len(operator_client.get("/office/presentations/", {"consent": granted_consent.pk}).context["page"]) == 4


def test_presentations_filter_by_period(operator_client, granted_consent, organization, operator):
    with time_machine.travel(timezone.now() - timedelta(days=10)):
        record_uses(granted_consent, 1, organization, operator)
    record_uses(granted_consent, 2, organization, operator)
    since = (timezone.localdate() - timedelta(days=1)).isoformat()
    assert len(operator_client.get("/office/presentations/", {"since": since}).context["page"]) == 2
    until = (timezone.localdate() - timedelta(days=5)).isoformat()
    assert len(operator_client.get("/office/presentations/", {"until": until}).context["page"]) == 1


def test_presentations_of_another_organisation_never_appear(
    other_operator_client, granted_consent, organization, operator
):
    record_uses(granted_consent, 2, organization, operator)
    assert list(other_operator_client.get("/office/presentations/").context["page"]) == []
    response = other_operator_client.get("/office/presentations/", {"format": "csv"})
    assert read_csv(response)[1:] == []


def test_another_organisations_api_key_is_not_a_filter_choice(other_operator_client, api_key):
    response = other_operator_client.get("/office/presentations/", {"api_key": api_key.pk})
    assert api_key not in response.context["form"].fields["api_key"].queryset


def test_presentations_page_is_not_for_anonymous_visitors(client):
    assert client.get("/office/presentations/").status_code == 302


# ---- CSV export ----------------------------------------------------------------------------------


def test_consent_export_is_streamed_in_words_not_stored_and_audited(operator_client, granted_consent, operator):
    response = operator_client.get("/office/consents/", {"format": "csv", "state": "active"})
    assert response.streaming
    assert response["Cache-Control"] == "no-store"
    assert response["Content-Disposition"].startswith('attachment; filename="consents-')
    rows = read_csv(response)
    assert rows[0][:3] == ["#", "Granted", "Person"]
    assert len(rows) == 2
    assert rows[1][0] == str(granted_consent.pk)
    assert rows[1][3:5] == ["face", "face swap"]
    assert "face_swap" not in ",".join(rows[1])
    assert rows[1][5] == granted_consent.get_state_display()
    event = AuditEvent.objects.get(action="office.export")
    assert event.organization_id == granted_consent.organization_id
    assert event.data == {"list": "consents", "filters": {"state": "active"}, "rows": 1}
    assert event.actor_label == operator.username


def test_request_export_masks_the_phone_and_keeps_the_filters(operator_client, granted_consent, organization, operator):
    build_request(actor=operator, organization=organization, phone="+8613700001111")
    rows = read_csv(search(operator_client, "/office/requests/", csv=True, q="1370000"))
    assert len(rows) == 2
    assert rows[1][2] == "'+86137****1111"  # a leading + would be a formula to a spreadsheet


def test_a_cell_a_spreadsheet_would_run_is_defused(operator_client, organization, operator):
    build_request(actor=operator, organization=organization, phone="+8613700001111", end_user_reference="=HYPERLINK(1)")
    rows = read_csv(operator_client.get("/office/requests/", {"format": "csv"}))
    assert rows[1][5] == "'=HYPERLINK(1)"


def test_each_export_of_another_organisation_holds_none_of_our_rows(other_operator_client, granted_consent):
    for url in ("/office/requests/", "/office/consents/", "/office/audit/"):
        rows = read_csv(other_operator_client.get(url, {"format": "csv"}))
        assert str(granted_consent.pk) not in {row[0] for row in rows[1:]} or url == "/office/audit/", url
        if url != "/office/audit/":
            assert rows[1:] == [], url
    audit_rows = read_csv(other_operator_client.get("/office/audit/", {"format": "csv"}))
    seqs = {int(row[0]) for row in audit_rows[1:]}
    ours = set(AuditEvent.objects.filter(organization_id=granted_consent.organization_id).values_list("seq", flat=True))
    assert seqs and not seqs & ours


def test_audit_list_filters_by_action(operator_client, granted_consent):
    page = operator_client.get("/office/audit/", {"action": "consent."}).context["page"]
    assert {e.action for e in page} == {"consent.grant"}


def test_a_viewer_may_export(viewer_client, granted_consent):
    assert len(read_csv(viewer_client.get("/office/consents/", {"format": "csv"}))) == 2


# ---- webhook deliveries --------------------------------------------------------------------------


def test_webhook_log_filters_by_state_and_exports_in_words(operator_client, granted_consent):
    events = WebhookEvent.objects.filter(organization=granted_consent.organization)
    assert events.exists()
    state = events.first().state
    other_state = next(s for s in WebhookEvent.State.values if s != state)
    assert len(operator_client.get("/office/webhooks/", {"state": state}).context["page"]) == events.count()
    assert list(operator_client.get("/office/webhooks/", {"state": other_state}).context["page"]) == []
    rows = read_csv(operator_client.get("/office/webhooks/", {"format": "csv"}))
    assert rows[0][0] == "Created"
    assert {row[3] for row in rows[1:]} == {WebhookEvent.State(state).label}
    assert AuditEvent.objects.get(action="office.export").data["list"] == "webhooks"


def test_webhook_log_of_another_organisation_never_appears(other_operator_client, granted_consent):
    assert list(other_operator_client.get("/office/webhooks/").context["page"]) == []
    assert read_csv(other_operator_client.get("/office/webhooks/", {"format": "csv"}))[1:] == []


def test_presentations_page_makes_a_fixed_number_of_queries(
    operator_client, granted_consent, organization, operator, django_assert_max_num_queries
):
    record_uses(granted_consent, 8, organization, operator)
    with django_assert_max_num_queries(12):
        response = operator_client.get("/office/presentations/")
    assert len(response.context["page"]) == 8


def test_the_audit_trail_keeps_a_searched_id_number_or_phone_masked(operator_client, granted_consent):
    rows = read_csv(search(operator_client, "/office/consents/", csv=True, q=PERSON_ID))
    assert len(rows) == 2
    search(operator_client, "/office/requests/", csv=True, q="+8613912345678")
    searches = [e.data["filters"]["q"] for e in AuditEvent.objects.filter(action="office.export").order_by("seq")]
    assert searches == [mask_id_number(PERSON_ID), mask_phone("+8613912345678")]
    assert PERSON_ID not in str(AuditEvent.objects.values_list("data", flat=True))


def test_the_audit_export_names_actions_and_targets_in_words(operator_client, granted_consent):
    rows = read_csv(operator_client.get("/office/audit/", {"format": "csv"}))
    actions = [row[3] for row in rows[1:]]
    assert "consent granted" in actions
    assert not [a for a in actions if "." in a]  # no raw action code such as consent.grant
    assert "consent #" + str(granted_consent.pk) in [row[4] for row in rows[1:]]
