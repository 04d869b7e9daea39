"""One family of expected failures: every app's members have a stable code and a status, and each surface shows
them in one way (the API as the JSON shape, forms inline with the input kept, actions as a flash message)."""

import re

import pytest
from django import forms
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import translation

import audit.services
import consent.errors
import identity.errors
from errors import ApplicationError
from errors.surfaces import errors_on_form
from tests.consent.test_api import key_for

PARAM = re.compile(r"%\((\w+)\)s")

# Clients branch on these: a code may be added, never renamed.
STABLE_CODES = {
    "api_key_revoked",
    "audit_retention_too_short",
    "sms_code_rejected",
    "consent_error",
    "consent_not_active",
    "cooling_down",
    "guardian_invalid",
    "idempotency_key_reused",
    "identity_conflict",
    "identity_error",
    "identity_limited",
    "identity_not_matched",
    "invalid",
    "not_for_this_person",
    "not_pending",
    "media_type_not_consented",
    "output_registered_under_another_consent",
    "presentation_not_active",
    "presentation_not_found",
    "presentation_too_old",
    "thumbnail_invalid",
    "operator_locked",
    "owner_required",
    "last_owner",
    "invitation_invalid",
    "username_taken",
    "member_exists",
    "otp_wrong",
    "password_rejected",
    "person_blocked_organization",
    "rate_limited",
    "request_expired",
    "resend_limited",
    "sample_too_large",
    "sms_send_limited",
    "verifier_unavailable",
}


def _family(cls=ApplicationError) -> list[type[ApplicationError]]:
    found = []
    for sub in cls.__subclasses__():
        found += [sub, *_family(sub)]
    return found


def _members() -> list[type[ApplicationError]]:
    # Importing the apps' error modules above registers every member; none may live elsewhere unimported.
    assert consent.errors and identity.errors and audit.services
    return sorted(_family(), key=lambda cls: cls.code)


def _raise(cls):
    """An instance with every %(param)s of its message filled in, and a retry_after for the 429s."""
    params = dict.fromkeys(PARAM.findall(str(cls.message)), "X")
    return cls(retry_after=30 if cls.status == 429 else None, **params)


@pytest.mark.parametrize(
    "name",
    [
        "consent.errors.IdempotencyKeyReused",
        "consent.errors.ApiKeyRevoked",
        "consent.errors.RateLimited",
        "consent.errors.SampleTooLarge",
        "identity.errors.OperatorLocked",
        "identity.errors.IdentityNotMatched",
        "audit.services.PurgeRefused",
    ],
)
def test_the_once_stray_failures_are_members_of_the_family(name):
    module, _, attr = name.rpartition(".")
    assert issubclass(getattr(__import__(module, fromlist=[attr]), attr), ApplicationError)


def test_every_member_has_its_own_stable_code_and_an_http_status():
    members = _members()
    codes = [cls.code for cls in members]
    assert all(codes) and len(codes) == len(set(codes)), codes
    assert set(codes) == STABLE_CODES
    assert {cls.status for cls in members} <= {400, 403, 404, 409, 413, 422, 429, 503}


def test_every_member_has_a_message_a_person_can_read_in_both_languages():
    for cls in _members():
        with translation.override("en"):
            english = str(_raise(cls))
        with translation.override("zh-hans"):
            chinese = str(_raise(cls))
        assert english and "%(" not in english, cls
        assert chinese != english, f"{cls.__name__} has no Chinese message"


@pytest.mark.django_db
@pytest.mark.parametrize("cls", _members(), ids=lambda cls: cls.code)
def test_every_member_reaches_the_api_as_the_json_shape_with_its_code_and_status(cls, organization, monkeypatch):
    from consent.api import views

    error = _raise(cls)

    def refuse(*args, **kwargs):
        raise error

    monkeypatch.setattr(views.selectors, "request_get_for_operator", refuse)
    client = Client(raise_request_exception=False)
    response = client.get("/api/v1/requests/1", HTTP_AUTHORIZATION=f"Bearer {key_for(organization)}")
    assert response.status_code == cls.status
    assert response.json() == {"code": cls.code, "message": str(error), "fields": {}}
    assert response.get("Retry-After") == ("30" if cls.status == 429 else None)


class ItemForm(forms.Form):
    samples = forms.CharField(required=False)


class RequestForm(forms.Form):
    phone = forms.CharField()


def test_field_errors_land_on_the_field_they_name_also_in_a_subform():
    form, first, second = RequestForm({"phone": "1"}), ItemForm({}), ItemForm({})
    for f in (form, first, second):
        f.is_valid()
    error = consent.errors.InvalidRequest(
        fields={"phone": ["bad phone"], "items[1].samples[0]": ["too big"], "items[7].samples": ["no such item"]}
    )
    with errors_on_form(form, subforms={"items[0].": first, "items[1].": second}):
        raise error
    assert form.errors == {"phone": ["bad phone"], "__all__": ["no such item"]}
    assert second.errors == {"samples": ["too big"]} and first.errors == {}


def test_an_error_without_fields_goes_on_the_field_asked_for_and_a_validator_error_too():
    form = RequestForm({"phone": "1"})
    form.is_valid()
    with errors_on_form(form, field="phone"):
        raise identity.errors.CodeRejected("That code is wrong.")
    with errors_on_form(form):
        raise ValidationError("The checksum %(digit)s is wrong.", params={"digit": "X"})
    assert form.errors == {"phone": ["That code is wrong."], "__all__": ["The checksum X is wrong."]}


def test_anything_else_is_not_swallowed():
    form = RequestForm({"phone": "1"})
    with pytest.raises(KeyError), errors_on_form(form):
        raise KeyError("a bug stays a bug")
