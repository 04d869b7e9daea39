"""A consent record and the person's export carry the decision's inclusion proof in the transparency log,
which verifies offline with the log's published key alone."""

import base64
import io
import json
import zipfile

import pypdf
import pytest
from django.test import Client
from jsonschema import Draft202012Validator, FormatChecker
from likeness_consent_client import LogError, verify_evidence

from consent import services
from consent.records import receipt as receipt_module
from consent.records.receipt import receipt_schema
from consent.records.render import _embedded_files, artifact_build, artifact_verify
from consent.records.sign import signature_check
from consent.records.transparency import evidence_check
from consent.services.artifacts import _load
from tests.consent.conftest import PERSON_ID
from tests.consent.test_artifacts import pdf_of, run_command, signed_in_person, upload

pytestmark = [pytest.mark.django_db, pytest.mark.pdf]


@pytest.fixture
def pat(client_factory, pending_request):
    return signed_in_person(client_factory(), pending_request.person_phone, PERSON_ID)


@pytest.fixture
def granted(pat, pending_request):
    """Pat grants the face item; the record is rendered and signed when the grant commits."""
    services.request_open(person=pat.person, code=pending_request.code)
    return services.consent_grant(actor=pat.person, item_id=pending_request.items.get(position=1).pk)


def receipt_of(pdf: bytes) -> dict:
    return json.loads(_embedded_files(signature_check(pdf).root)["receipt.json"])


def published_key() -> str:
    return Client().get("/log/key").content.decode().strip()


def test_the_record_carries_its_grant_event_checkpoint_and_proof_which_verify_with_the_published_key_alone(
    granted, django_assert_num_queries
):
    receipt = receipt_of(pdf_of(granted))
    Draft202012Validator(receipt_schema(), format_checker=FormatChecker()).validate(receipt)
    evidence = receipt["x-likeness"]["transparency_log"]
    event = json.loads(evidence["event"])
    assert (event["action"], event["target_id"]) == ("consent.grant", str(granted.pk))
    key = published_key()
    with django_assert_num_queries(0):  # offline: nothing but the record and the key
        check = evidence_check(evidence, consent_id=granted.pk, kind="grant", verifier_key=key)
    assert check.ok, check
    assert check.leaf_index == evidence["leaf_index"] and check.tree_size > check.leaf_index


def test_the_check_page_and_the_command_report_the_logs_proof(client, granted, tmp_path):
    data = pdf_of(granted)
    index = receipt_of(data)["x-likeness"]["transparency_log"]["leaf_index"]
    response = upload(client, data)
    assert response.context["report"].valid
    assert f'data-log-index="{index}"' in response.content.decode()
    path = tmp_path / "record.pdf"
    path.write_bytes(data)
    code, out = run_command(path)
    assert code == 0 and f"audit log: event at leaf {index}" in out


def forged_record(consent, change) -> bytes:
    """A record signed with our certificate whose log evidence was changed first (a forger with our PDF key)."""
    real = receipt_module.decision_evidence

    def tampered(consent_, kind):
        evidence = real(consent_, kind)
        change(evidence)
        return evidence

    receipt_module.decision_evidence = tampered
    try:
        return artifact_build(_load(consent.pk), "grant")
    finally:
        receipt_module.decision_evidence = real


def flip(evidence):
    proof = base64.b64decode(evidence["inclusion_proof"][0])
    evidence["inclusion_proof"][0] = base64.b64encode(bytes([proof[0] ^ 1]) + proof[1:]).decode()


@pytest.mark.parametrize(
    "change",
    [
        flip,
        lambda e: e.update(leaf_index=e["leaf_index"] + 1),
        lambda e: e.update(event=e["event"].replace("consent.grant", "consent.revoke")),
        lambda e: e.update(checkpoint=e["checkpoint"].split("\n\n")[0] + "\n\n"),
        lambda e: e.update(checkpoint="not a note"),
        lambda e: e.update(inclusion_proof="nope"),
    ],
    ids=["proof", "index", "event", "unsigned", "garbage", "malformed"],
)
def test_a_record_whose_log_proof_was_changed_is_not_valid(client, granted, change):
    report = artifact_verify(forged_record(granted, change))
    assert [p.value for p in report.problems] == ["log_proof_broken"]
    assert report.log_leaf_index is None


def test_a_proof_of_another_consents_decision_is_refused(granted):
    evidence = receipt_of(pdf_of(granted))["x-likeness"]["transparency_log"]
    assert evidence_check(evidence, consent_id=granted.pk + 1, kind="grant").problem == "another event"
    assert evidence_check(evidence, consent_id=granted.pk, kind="revocation").problem == "another event"


def test_the_withdrawal_record_proves_the_withdrawal_event(pat, granted):
    services.consent_revoke(person=pat.person, consent_id=granted.pk)
    evidence = receipt_of(pdf_of(granted, "revocation"))["x-likeness"]["transparency_log"]
    assert json.loads(evidence["event"])["action"] == "consent.revoke"
    assert evidence_check(evidence, consent_id=granted.pk, kind="revocation").ok


def test_the_export_carries_a_verifying_proof_of_each_decision(pat, granted):
    services.consent_revoke(person=pat.person, consent_id=granted.pk)
    data = json.loads(zipfile.ZipFile(io.BytesIO(services.person_export(person=pat.person))).read("data.json"))
    proofs = data["consents"][0]["transparency_log"]
    assert set(proofs) == {"grant", "revocation"}
    key = published_key()
    for kind, evidence in proofs.items():
        assert evidence_check(evidence, consent_id=granted.pk, kind=kind, verifier_key=key).ok, kind


# ---- the standalone verifier in clients/python: the record's bytes and the published key, nothing else ----


def receipt_read_by_pypdf(pdf: bytes) -> dict:
    """The receipt.json attachment as any PDF library finds it (pypdf), not through our own record code."""
    (data,) = pypdf.PdfReader(io.BytesIO(pdf)).attachments["receipt.json"]
    return json.loads(data)


@pytest.mark.parametrize("kind", ["grant", "revocation"])
def test_the_clients_verifier_proves_the_decision_from_the_pdf_and_the_published_key_alone(
    pat, granted, kind, django_assert_num_queries
):
    if kind == "revocation":
        services.consent_revoke(person=pat.person, consent_id=granted.pk)
    pdf, key = pdf_of(granted, kind), published_key()
    with django_assert_num_queries(0):  # offline
        evidence = receipt_read_by_pypdf(pdf)["x-likeness"]["transparency_log"]
        index = verify_evidence(evidence, key, consent_id=granted.pk, kind=kind)
    assert index == evidence["leaf_index"]
    event = json.loads(evidence["event"])
    assert (event["action"], event["target_type"], event["target_id"]) == (
        {"grant": "consent.grant", "revocation": "consent.revoke"}[kind], "consent.consent", str(granted.pk),
    )  # fmt: skip
    other = "revocation" if kind == "grant" else "grant"
    with pytest.raises(LogError) as caught:
        verify_evidence(evidence, key, consent_id=granted.pk, kind=other)
    assert caught.value.code == "another_event"
    with pytest.raises(LogError) as caught:
        verify_evidence(evidence, key, consent_id=granted.pk + 1, kind=kind)
    assert caught.value.code == "another_event"


@pytest.mark.parametrize(
    ("change", "code"),
    [
        (flip, "inconsistent"),
        (lambda e: e.update(leaf_index=e["leaf_index"] + 1), "inconsistent"),
        (lambda e: e.update(event=e["event"].replace('"seq":', '"seq":1')), "inconsistent"),
        (lambda e: e.update(checkpoint=e["checkpoint"].split("\n\n")[0] + "\n\n"), "bad_checkpoint"),
        (lambda e: e.update(leaf_index=str(e["leaf_index"])), "bad_evidence"),
        (lambda e: e.update(inclusion_proof="nope"), "bad_evidence"),
        (lambda e: e.update(event=None), "bad_evidence"),
    ],
    ids=["proof", "index", "event", "unsigned", "index-text", "proof-text", "no-event"],
)
def test_the_clients_verifier_refuses_changed_evidence(granted, change, code):
    evidence = receipt_read_by_pypdf(pdf_of(granted))["x-likeness"]["transparency_log"]
    change(evidence)
    with pytest.raises(LogError) as caught:
        verify_evidence(evidence, published_key(), consent_id=granted.pk, kind="grant")
    assert caught.value.code == code


def test_the_export_carries_proofs_the_clients_verifier_accepts(pat, granted):
    services.consent_revoke(person=pat.person, consent_id=granted.pk)
    data = json.loads(zipfile.ZipFile(io.BytesIO(services.person_export(person=pat.person))).read("data.json"))
    key = published_key()
    for kind, evidence in data["consents"][0]["transparency_log"].items():
        assert verify_evidence(evidence, key, consent_id=granted.pk, kind=kind) == evidence["leaf_index"]
    # The same decision as the record carries: one event, one leaf.
    record = receipt_read_by_pypdf(pdf_of(granted))["x-likeness"]["transparency_log"]
    assert data["consents"][0]["transparency_log"]["grant"]["leaf_index"] == record["leaf_index"]
    assert data["consents"][0]["transparency_log"]["grant"]["event"] == record["event"]
