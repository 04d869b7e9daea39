"""Notification caps: each request (or resend) is an SMS to a person, so services cannot flood a phone."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from consent import services
from consent.errors import RateLimited
from consent.models import ConsentRequest, Notification
from identity.crypto import mask_phone
from identity.models import OutboxMessage
from tests.consent.conftest import PERSON_PHONE, request_input
from tests.consent.test_api import api, body, create, key_for
from tests.consent.test_office import form_data

pytestmark = pytest.mark.django_db


def sms_to(phone=PERSON_PHONE) -> int:
    return OutboxMessage.objects.filter(channel="sms", to=mask_phone(phone)).count()


def test_the_fourth_request_to_one_phone_in_a_day_is_429_with_retry_after(organization):
    service = api(key_for(organization))
    for i in range(3):
        assert create(service, body(), key=f"k-{i}").status_code == 201
    response = create(service, body(), key="k-3")
    assert response.status_code == 429
    assert response.json()["code"] == "rate_limited"
    assert 0 < int(response["Retry-After"]) <= 86400
    assert ConsentRequest.objects.count() == 3
    assert sms_to() == 3


def test_a_refused_request_can_be_retried_with_the_same_key_once_the_window_passed(organization):
    service = api(key_for(organization))
    for i in range(3):
        create(service, body(), key=f"k-{i}")
    assert create(service, body(), key="again").status_code == 429
    with time_machine.travel(timezone.now() + timedelta(days=1, minutes=1)):
        response = create(service, body(end_user_verified_at=timezone.now().isoformat()), key="again")
    assert response.status_code == 201


def test_one_phone_gets_a_capped_number_of_notifications_from_all_organisations(
    organization, other_organization, operator, other_operator, settings
):
    settings.NOTIFY_LIMIT_PER_PHONE_DAY = 4
    for _ in range(3):
        services.request_create(actor=operator, organization=organization, data=request_input())
    services.request_create(actor=other_operator, organization=other_organization, data=request_input())
    with pytest.raises(RateLimited, match="This number has received too many notifications today"):
        services.request_create(actor=other_operator, organization=other_organization, data=request_input())
    assert sms_to() == 4


def test_an_organisation_sends_a_capped_number_of_notifications_an_hour(organization, operator, settings):
    settings.NOTIFY_LIMIT_PER_ORGANIZATION_HOUR = 2
    for i in range(2):
        services.request_create(
            actor=operator, organization=organization, data=request_input(phone=f"+861391234500{i}")
        )
    with pytest.raises(RateLimited, match="in the last hour") as refused:
        services.request_create(actor=operator, organization=organization, data=request_input(phone="+8613912345009"))
    assert 0 < refused.value.retry_after <= 3600
    assert Notification.objects.count() == 2


def test_resends_count_against_the_phone_cap(organization, operator):
    first = services.request_create(actor=operator, organization=organization, data=request_input())
    services.request_create(actor=operator, organization=organization, data=request_input())
    with time_machine.travel(timezone.now() + timedelta(minutes=11)):
        services.request_notify_again(actor=operator, organization=organization, request_id=first.pk)
    with time_machine.travel(timezone.now() + timedelta(minutes=22)), pytest.raises(RateLimited):
        services.request_notify_again(actor=operator, organization=organization, request_id=first.pk)
    assert Notification.objects.count() == 3


def test_the_office_form_shows_the_cap_inline_and_creates_nothing(operator_client, organization, operator):
    for _ in range(3):
        services.request_create(actor=operator, organization=organization, data=request_input())
    response = operator_client.post("/office/requests/new/", form_data())
    assert response.status_code == 200
    assert (
        "Your organisation has sent this number too many notifications today"
        in (response.context["form"].non_field_errors()[0])
    )
    assert ConsentRequest.objects.count() == 3


def test_the_cap_is_explained_in_chinese_by_default(organization, operator):
    from django.utils import translation

    for _ in range(3):
        services.request_create(actor=operator, organization=organization, data=request_input())
    with translation.override("zh-hans"), pytest.raises(RateLimited) as refused:
        services.request_create(actor=operator, organization=organization, data=request_input())
    with translation.override("zh-hans"):
        assert "贵机构今日向此号码发送的通知过多" in str(refused.value)


def test_the_retry_after_of_a_notification_cap_is_when_the_oldest_leaves_the_day(organization):
    service = api(key_for(organization))
    start = timezone.now().replace(microsecond=0)
    with time_machine.travel(start, tick=False) as clock:
        for i in range(3):
            assert create(service, body(), key=f"k-{i}").status_code == 201
        clock.shift(timedelta(hours=1))
        refused = create(service, body(end_user_verified_at=timezone.now().isoformat()), key="late")
        # A notification counts while it is at most a day old: the first is out one second after that.
        assert refused.status_code == 429 and refused.json()["code"] == "rate_limited"
        assert refused["Retry-After"] == str(23 * 3600 + 1)
        clock.shift(timedelta(hours=23))
        early = create(service, body(end_user_verified_at=timezone.now().isoformat()), key="late")
        assert early.status_code == 429 and early["Retry-After"] == "1"
        clock.shift(1)
        response = create(service, body(end_user_verified_at=timezone.now().isoformat()), key="late")
    assert response.status_code == 201
