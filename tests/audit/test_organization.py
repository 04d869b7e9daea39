"""The organisation column of audit events: under the leaf hash, so moving an event to another trail shows."""

import pytest

import audit
from audit.services import log_integrate
from tests.audit.helpers import run_verify, tamper

pytestmark = pytest.mark.django_db


def test_record_takes_the_organisation_explicitly_or_from_the_target_or_the_data():
    assert audit.record("a", "x.y", None, {}, organization=7).organization_id == 7
    assert audit.record("a", "x.y", None, {"organization": 8}).organization_id == 8
    assert audit.record("a", "x.y", None, {"organization": "8"}).organization_id is None  # only real ids
    assert audit.record("a", "x.y", None, {}).organization_id is None


def test_moving_an_event_to_another_organisation_breaks_its_leaf():
    first = audit.record("alice", "thing.create", None, {}, organization=1)
    audit.record("alice", "thing.create", None, {}, organization=1)
    log_integrate()
    assert run_verify()[0] == 0
    tamper("UPDATE audit_auditevent SET organization_id = 2 WHERE seq = %s", [first.seq])
    code, output = run_verify()
    assert code == 1
    assert "leaf 0" in output and "content does not match its leaf hash" in output
