"""The new-request form: every error at once with a summary that links to the fields, and samples kept
across a failed submit (stored under a signed, per-operator token, removed on success or by the purge)."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from consent import services
from consent.models import ConsentRequest, Sample
from consent.uploads import KEPT_PREFIX, kept_load
from tests.consent.conftest import wav_bytes
from tests.consent.test_office import form_data

pytestmark = pytest.mark.django_db

KEPT = re.compile(r'name="(items-\d-kept)" value="([^"]+)"')


def kept_files() -> list[str]:
    try:
        folders, _ = default_storage.listdir(KEPT_PREFIX)
    except FileNotFoundError:
        return []
    return [name for folder in folders for name in default_storage.listdir(f"{KEPT_PREFIX}/{folder}")[1]]


def fail_once(client) -> dict:
    """Submit with one mistake; the hidden kept-sample tokens of the page shown again."""
    data = form_data()
    del data["end_user_prompted_to_notify"]
    response = client.post("/office/requests/new/", data)
    assert response.status_code == 200
    assert not ConsentRequest.objects.exists()
    return dict(KEPT.findall(response.content.decode()))


def without_files(**extra) -> dict:
    data = form_data(**extra)
    del data["items-0-samples"], data["items-1-samples"]
    return data


def test_samples_are_kept_across_a_failed_submit_and_used_by_the_next(operator_client):
    tokens = fail_once(operator_client)
    assert set(tokens) == {"items-0-kept", "items-1-kept"}
    assert len(kept_files()) == 2
    response = operator_client.post("/office/requests/new/", without_files(**tokens))
    assert response.status_code == 302, response.context and response.context["items"].errors
    created = ConsentRequest.objects.get()
    assert sorted(Sample.objects.filter(item__request=created).values_list("original_name", flat=True)) == [
        "face.png",
        "voice.wav",
    ]
    assert kept_files() == []  # gone once the request holds them


def test_the_page_shown_again_says_which_files_are_kept(operator_client):
    data = form_data()
    del data["end_user_prompted_to_notify"]
    body = operator_client.post("/office/requests/new/", data).content.decode()
    assert "kept: face.png" in body and "kept: voice.wav" in body
    assert "Choose files only to replace the kept ones." in body  # not "attach it again"


def test_a_new_file_replaces_the_kept_one(operator_client):
    tokens = fail_once(operator_client)
    data = without_files(**tokens)
    data["items-1-samples"] = SimpleUploadedFile("other.wav", wav_bytes(), content_type="audio/wav")
    assert operator_client.post("/office/requests/new/", data).status_code == 302
    names = set(Sample.objects.values_list("original_name", flat=True))
    assert names == {"face.png", "other.wav"}


def test_another_operators_kept_token_loads_nothing(operator_client, other_operator_client):
    tokens = fail_once(operator_client)
    response = other_operator_client.post("/office/requests/new/", without_files(**tokens))
    assert response.status_code == 200
    assert "samples" in response.context["items"].forms[0].errors
    assert not ConsentRequest.objects.exists()


def test_a_forged_or_expired_token_loads_nothing(operator_client):
    tokens = fail_once(operator_client)
    forged = {name: value[:-2] + "xx" for name, value in tokens.items()}
    response = operator_client.post("/office/requests/new/", without_files(**forged))
    assert "samples" in response.context["items"].forms[0].errors
    assert not ConsentRequest.objects.exists()
    user_id = response.wsgi_request.user.pk
    assert kept_load(tokens["items-0-kept"], user_id=user_id)  # the real token still loads now
    with time_machine.travel(timezone.now() + timedelta(hours=25)):  # a session would have expired too
        assert kept_load(tokens["items-0-kept"], user_id=user_id) == []


def test_the_daily_purge_removes_kept_samples_of_abandoned_forms(operator_client):
    fail_once(operator_client)
    assert services.consent_logs_purge()["kept_uploads"] == 0
    assert len(kept_files()) == 2
    result = services.consent_logs_purge(now=timezone.now() + timedelta(hours=25))
    assert result["kept_uploads"] == 2
    assert kept_files() == []


def test_every_error_is_shown_at_once_with_a_summary_linking_to_the_fields(operator_client):
    wrong_kind = SimpleUploadedFile("voice.wav", wav_bytes(), content_type="audio/wav")
    data = form_data(phone="12345", **{"items-0-samples": wrong_kind, "items-0-purpose": ""})
    response = operator_client.post("/office/requests/new/", data)
    assert not ConsentRequest.objects.exists()
    form, items = response.context["form"], response.context["items"]
    assert "purpose" in items.forms[0].errors  # the form's own check
    assert "phone" in form.errors  # the service's check, in the same pass
    assert "needs the other kind" in items.forms[0].errors["samples"][0]
    assert len(items.forms[0].errors["purpose"]) == 1  # not repeated by the service
    body = response.content.decode()
    summary = body[body.index('id="error-summary"') : body.index('id="request-form"')]
    assert 'href="#id_phone"' in summary
    assert 'href="#id_items-0-purpose"' in summary
    assert 'href="#id_items-0-samples"' in summary
