"""The log's public URLs: checkpoint, key, inclusion and consistency proofs; clean JSON errors for bad input."""

import base64

import pytest
from django.urls import reverse

from audit import keys, merkle, note
from audit.models import AuditEvent
from audit.services import log_integrate
from tests.audit.helpers import record

pytestmark = pytest.mark.django_db


@pytest.fixture
def log():
    record(5)
    first = log_integrate()
    record(6)
    return first, log_integrate()


def b64(values):
    return [base64.b64decode(v) for v in values]


def test_checkpoint_and_key_are_public_text_that_verify_each_other(client, log):
    response = client.get("/log/checkpoint")
    assert response.status_code == 200 and response["Content-Type"] == "text/plain; charset=utf-8"
    key = client.get("/log/key").content.decode().strip()
    assert key == keys.log_verifier_key()
    assert note.checkpoint_open(response.content.decode(), note.verifier_parse(key)).size == 11
    older = client.get("/log/checkpoint", {"size": 5})
    assert older.content.decode() == log[0].note


def test_an_inclusion_proof_leads_from_the_events_leaf_to_the_signed_root(client, log):
    answer = client.get("/log/proof/inclusion", {"index": 3, "size": 11}).json()
    event = AuditEvent.objects.get(seq=answer["event_seq"])
    leaf = merkle.leaf_hash(event.leaf_body())
    assert base64.b64decode(answer["leaf_hash"]) == leaf
    root = bytes.fromhex(log[1].root_hash)
    assert merkle.verify_inclusion(3, 11, leaf, b64(answer["hashes"]), root)


def test_a_consistency_proof_links_the_two_signed_checkpoints(client, log):
    answer = client.get("/log/proof/consistency", {"first": 5, "second": 11}).json()
    assert (answer["first"], answer["second"]) == (5, 11)
    old, new = (bytes.fromhex(c.root_hash) for c in log)
    assert merkle.verify_consistency(5, 11, old, new, b64(answer["hashes"]))


@pytest.mark.parametrize(
    ("url", "params", "code", "field"),
    [
        ("/log/proof/inclusion", {"size": 3}, "invalid_parameters", "index"),
        ("/log/proof/inclusion", {"index": "-1", "size": 3}, "invalid_parameters", "index"),
        ("/log/proof/inclusion", {"index": "x", "size": "3"}, "invalid_parameters", "index"),
        ("/log/proof/inclusion", {"index": 3, "size": 3}, "index_beyond_size", "index"),
        ("/log/proof/inclusion", {"index": 0, "size": 12}, "size_beyond_tree", "size"),
        ("/log/proof/inclusion", {"index": 0, "size": "9" * 30}, "invalid_parameters", "size"),
        ("/log/proof/consistency", {"first": 6}, "invalid_parameters", "second"),
        ("/log/proof/consistency", {"first": 6, "second": 5}, "first_beyond_second", "first"),
        ("/log/proof/consistency", {"first": 1, "second": 12}, "size_beyond_tree", "second"),
        ("/log/checkpoint", {"size": "abc"}, "invalid_parameters", "size"),
        ("/log/checkpoint", {"size": "-5"}, "invalid_parameters", "size"),
        ("/log/proof/inclusion", {"index": "1.5", "size": 3}, "invalid_parameters", "index"),
        ("/log/proof/inclusion", {"index": "+1", "size": 3}, "invalid_parameters", "index"),
        ("/log/proof/inclusion", {"index": "\u0661", "size": 3}, "invalid_parameters", "index"),  # Arabic-Indic one
        ("/log/proof/inclusion", {"index": 0, "size": "-3"}, "invalid_parameters", "size"),
        ("/log/proof/inclusion", {"index": 0, "size": "3e1"}, "invalid_parameters", "size"),
        ("/log/proof/inclusion", {"index": 0, "size": ""}, "invalid_parameters", "size"),
        ("/log/proof/inclusion", {"index": 0, "size": 0}, "index_beyond_size", "index"),
        ("/log/proof/inclusion", {"index": "9" * 18, "size": 11}, "index_beyond_size", "index"),
        ("/log/proof/inclusion", {"index": 0, "size": "9" * 18}, "size_beyond_tree", "size"),
        ("/log/proof/consistency", {"first": "-1", "second": 5}, "invalid_parameters", "first"),
        ("/log/proof/consistency", {"first": 1, "second": "x"}, "invalid_parameters", "second"),
        ("/log/proof/consistency", {"first": 1, "second": "5.0"}, "invalid_parameters", "second"),
        ("/log/proof/consistency", {"second": 5}, "invalid_parameters", "first"),
        ("/log/proof/consistency", {"first": 12, "second": 13}, "size_beyond_tree", "second"),
        ("/log/proof/consistency", {"first": 11, "second": 0}, "first_beyond_second", "first"),
    ],
)
def test_bad_parameters_are_a_json_error_with_a_stable_code(client, log, url, params, code, field):
    response = client.get(url, params)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == code and field in body["fields"]


def test_the_proofs_at_the_edges_of_the_tree_answer_and_verify(client, log):
    """The last leaf of the whole tree, and the sizes 0 and equal, which need no hashes."""
    newest = bytes.fromhex(log[1].root_hash)
    answer = client.get("/log/proof/inclusion", {"index": 10, "size": 11}).json()
    assert merkle.verify_inclusion(10, 11, base64.b64decode(answer["leaf_hash"]), b64(answer["hashes"]), newest)
    for first, second in ((0, 11), (11, 11), (0, 0)):
        response = client.get("/log/proof/consistency", {"first": first, "second": second})
        assert response.status_code == 200 and response.json()["hashes"] == []


def test_the_checkpoint_and_key_urls_are_stable_and_cached_sensibly(client, log):
    """The newest checkpoint changes: revalidated on every use. A checkpoint of a given size never changes, and the
    key only with a key rotation. Plain UTF-8 text, readable by a witness running in any web page."""
    newest = client.get("/log/checkpoint")
    assert newest["Cache-Control"] == "no-cache"
    older = client.get("/log/checkpoint?size=5")
    assert older["Cache-Control"] == "public, max-age=86400"
    key = client.get("/log/key")
    assert key["Cache-Control"] == "public, max-age=3600"
    for response in (newest, older, key):
        assert response.status_code == 200
        assert response["Content-Type"] == "text/plain; charset=utf-8"
        assert response["Access-Control-Allow-Origin"] == "*"
    assert reverse("log:checkpoint") == "/log/checkpoint" and reverse("log:key") == "/log/key"
    assert reverse("log:proof-inclusion") == "/log/proof/inclusion"
    assert reverse("log:proof-consistency") == "/log/proof/consistency"
    answer = client.get("/log/proof/consistency", {"first": 5, "second": 11})
    assert answer["Content-Type"] == "application/json"


def test_unknown_checkpoint_and_empty_log_are_json_404s(client, db):
    assert client.get("/log/checkpoint").json()["code"] == "log_empty"
    record(1)
    log_integrate()
    response = client.get("/log/checkpoint", {"size": 7})
    assert response.status_code == 404 and response.json()["code"] == "checkpoint_not_found"


def test_the_proofs_answer_only_get(client, log):
    assert client.post("/log/proof/inclusion?index=0&size=1").status_code == 405


@pytest.mark.parametrize(
    "path",
    ["/log/checkpoint", "/log/key", "/log/proof/inclusion?index=3&size=11", "/log/proof/consistency?first=5&second=11"],
)
def test_head_answers_as_get_without_a_body_and_writes_refuse(client, log, path):
    got, head = client.get(path), client.head(path)
    assert head.status_code == got.status_code == 200
    assert head["Content-Type"] == got["Content-Type"] and head.content == b""
    assert client.post(path).status_code == 405
