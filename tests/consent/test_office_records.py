"""Readable records in the back-office: terms, states, reasons and audit actions in words, not codes."""

import re

import pytest
from django.core.files.base import ContentFile

from audit.models import AuditEvent
from consent import services
from consent.models import Artifact, Notification, Presentation
from consent.templatetags.consent_labels import AUDIT_ACTIONS
from tests.consent.conftest import record_uses
from tests.consent.test_office import granted_consent, person_browser  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db


def document(body: str) -> str:
    """The page's main part without the canonical JSON, which holds the codes on purpose."""
    main = body.partition("<main>")[2].partition("</main>")[0]
    while '<details class="canonical">' in main:
        before, _, rest = main.partition('<details class="canonical">')
        main = before + rest.partition("</details>")[2]
    return main


def stored_artifact(consent, kind: str) -> Artifact:
    artifact = Artifact(consent=consent, kind=kind, sha256="0" * 64, size=3)
    artifact.file.save(f"{kind}.pdf", ContentFile(b"pdf"), save=False)
    artifact.save()
    return artifact


def test_consent_terms_read_as_a_labelled_document_in_words(operator_client, granted_consent):  # noqa: F811
    body = operator_client.get(f"/office/consents/{granted_consent.pk}/").content.decode()
    readable = document(body)
    assert "face swap" in readable
    assert "Simplified Chinese" in readable
    assert "mobile number" in readable  # how the provider verified its end user
    for code in ("face_swap", "zh-hans", '"mobile"', "&quot;"):
        assert code not in readable, code
    assert "Film dubbing trailer" in readable


def test_the_exact_canonical_json_and_its_digest_are_one_click_away(operator_client, granted_consent):  # noqa: F811
    body = operator_client.get(f"/office/consents/{granted_consent.pk}/").content.decode()
    details = body.partition('<details class="canonical">')[2].partition("</details>")[0]
    assert granted_consent.terms_sha256 in details
    assert "face_swap" in details  # exactly what was hashed, codes and all


def test_terms_read_in_chinese_for_a_chinese_operator(operator_client, granted_consent):  # noqa: F811
    body = operator_client.get(f"/office/consents/{granted_consent.pk}/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    readable = document(body.content.decode())
    assert "换脸" in readable  # face swap
    assert "简体中文" in readable  # the request's language, in words
    assert "参考样本" in readable  # reference samples
    assert "概览" in body.content.decode()  # the navigation's dashboard link


def test_both_signed_records_are_linked_once_they_exist(operator_client, granted_consent):  # noqa: F811
    url = f"/office/consents/{granted_consent.pk}/"
    grant = f'href="/office/consents/{granted_consent.pk}/artifacts/grant.pdf"'
    withdrawal = f'href="/office/consents/{granted_consent.pk}/artifacts/revocation.pdf"'
    stored_artifact(granted_consent, Artifact.Kind.GRANT)
    body = operator_client.get(url).content.decode()
    assert grant in body and withdrawal not in body
    services.consent_revoke(consent_id=granted_consent.pk, person=granted_consent.person)
    assert "withdrawal record (PDF) is not ready yet" in operator_client.get(url).content.decode()
    stored_artifact(granted_consent, Artifact.Kind.REVOCATION)
    body = operator_client.get(url).content.decode()
    assert grant in body and withdrawal in body
    assert operator_client.get(f"/office/consents/{granted_consent.pk}/artifacts/revocation.pdf").status_code == 200


def test_sample_previews_show_on_the_consent_and_request_pages(operator_client, granted_consent):  # noqa: F811
    sample = granted_consent.item.samples.get()
    for url in (f"/office/consents/{granted_consent.pk}/", f"/office/requests/{granted_consent.item.request_id}/"):
        body = operator_client.get(url).content.decode()
        assert f'<img src="/office/samples/{sample.pk}/"' in body, url
    voice = granted_consent.item.request.items.get(modality="voice").samples.get()
    body = operator_client.get(f"/office/requests/{granted_consent.item.request_id}/").content.decode()
    assert f'<audio controls preload="metadata" src="/office/samples/{voice.pk}/"' in body
    assert operator_client.get(f"/office/samples/{sample.pk}/").status_code == 200


def test_sample_previews_are_not_served_to_another_organisation(other_operator_client, granted_consent):  # noqa: F811
    sample = granted_consent.item.samples.get()
    assert other_operator_client.get(f"/office/samples/{sample.pk}/").status_code == 404


def test_presentations_read_in_words(operator_client, granted_consent, organization, operator):  # noqa: F811
    record_uses(granted_consent, 2, organization, operator)
    assert Presentation.objects.filter(reason="operation_not_consented").exists()
    body = operator_client.get(f"/office/consents/{granted_consent.pk}/").content.decode()
    table = body.partition("<h2>Presentations</h2>")[2]
    assert "operation not consented" in table and "operation_not_consented" not in table
    assert "face swap" in table and "face_swap" not in table


def test_request_page_reads_in_words(operator_client, granted_consent):  # noqa: F811
    request = granted_consent.item.request
    assert Notification.objects.filter(request=request, reason="initial").exists()
    readable = document(operator_client.get(f"/office/requests/{request.pk}/").content.decode())
    assert "Simplified Chinese" in readable and "first notice" in readable and "voice cloning" in readable
    for code in ("zh-hans", ">initial<", "voice_cloning", "face_swap", "· sms ·"):
        assert code not in readable, code
    assert readable.count("How to withdraw") == 1  # the notice once for the request, not again per item


def test_audit_page_shows_actions_in_words_and_data_as_a_list(operator_client, granted_consent):  # noqa: F811
    chinese = operator_client.get("/office/audit/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "已创建请求" in chinese and "已给予同意" in chinese
    body = operator_client.get("/office/audit/").content.decode()
    assert "request created" in body and "consent granted" in body
    assert "<code>request.create</code>" not in body and ">request.create<" not in body
    assert '<dl class="audit-data">' in body
    assert "{&quot;" not in body  # no raw JSON
    assert "<dt>open until</dt>" in body  # request.create's expires_at, in words, as a local time
    assert not re.search(r"<dd>\d{4}-\d{2}-\d{2}T", body)


def test_every_action_the_journey_records_has_words(operator_client, granted_consent):  # noqa: F811
    services.consent_revoke(consent_id=granted_consent.pk, person=granted_consent.person)
    actions = set(
        AuditEvent.objects.filter(organization_id=granted_consent.organization_id).values_list("action", flat=True)
    )
    assert actions
    assert not actions - AUDIT_ACTIONS.keys(), sorted(actions - AUDIT_ACTIONS.keys())
