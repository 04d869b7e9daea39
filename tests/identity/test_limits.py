"""Limits come before records: refused sign-ins create nothing, identity checks are capped and no oracle."""

import pytest
from django.contrib.auth import get_user_model
from django.test import RequestFactory

from audit.models import AuditEvent
from identity import limits, services
from identity.errors import IdentityLimited
from identity.models import IdentityCheck, OutboxMessage, Person, SmsSend
from identity.net import client_ip
from identity.realname import ChecksumOnlyVerifier
from tests.identity.test_people import ADULT_ID, NAME, PHONE, sign_in

pytestmark = pytest.mark.django_db

OTHER_ADULT_ID = "110101198001010010"


class CountingVerifier(ChecksumOnlyVerifier):
    """The paid provider stand-in: counts every call; matches only 张三."""

    calls = 0

    def verify(self, name, id_number, phone):
        type(self).calls += 1
        result = super().verify(name, id_number, phone)
        if name != NAME:
            return self._result("not_matched", "counted", "not the name on record")
        return result


@pytest.fixture
def counting(settings):
    settings.REALNAME_BACKEND = "tests.identity.test_limits.CountingVerifier"
    CountingVerifier.calls = 0
    return CountingVerifier


def rows() -> tuple[int, int, int]:
    return get_user_model().objects.count(), Person.objects.count(), AuditEvent.objects.count()


def test_a_sign_in_refused_by_the_phone_limit_creates_no_user_person_or_audit_row(client, settings):
    settings.SMS_SEND_LIMIT_PER_PHONE_DAY = 0
    before = rows()
    response = client.post("/signin/", {"phone": PHONE})
    assert response.status_code == 200
    assert "too many codes today" in str(response.context["form"].errors["phone"])
    assert rows() == before
    assert SmsSend.objects.count() == 0 and OutboxMessage.objects.count() == 0


def test_a_sign_in_refused_by_the_address_limit_creates_nothing_and_is_only_counted(client, settings):
    settings.SMS_SEND_LIMIT_PER_IP_HOUR = 2
    for i in range(2):
        client.post("/signin/", {"phone": f"+861391234000{i}"}, REMOTE_ADDR="198.51.100.4")
    before = rows()
    for i in range(5):
        response = client.post("/signin/", {"phone": f"+861380000000{i}"}, REMOTE_ADDR="198.51.100.4")
        assert "your network" in str(response.context["form"].errors["phone"])
    assert rows() == before
    assert SmsSend.objects.count() == 2
    assert limits.refusals("sms_send_ip", "198.51.100.4") == 5


def test_the_send_ledger_holds_a_blind_index_not_the_phone(client):
    client.post("/signin/", {"phone": PHONE})
    send = SmsSend.objects.get()
    assert PHONE not in repr(send.__dict__) and len(send.phone_index) == 64


def test_a_conflicting_id_number_is_not_revealed_to_a_wrong_name(client, client_factory, counting):
    sign_in(client)
    client.post("/identity/", {"legal_name": NAME, "id_number": ADULT_ID})
    prober = client_factory()
    sign_in(prober, phone="+8613700000000")
    response = prober.post("/identity/", {"legal_name": "李四", "id_number": ADULT_ID})
    body = response.content.decode()
    assert "do not match" in body
    assert "already verified" not in body


def test_a_conflict_is_told_only_after_the_name_matched_and_binds_nothing(client, client_factory, counting):
    sign_in(client)
    client.post("/identity/", {"legal_name": NAME, "id_number": ADULT_ID})
    other = client_factory()
    prober = sign_in(other, phone="+8613700000000")
    response = other.post("/identity/", {"legal_name": NAME, "id_number": ADULT_ID})
    assert "already verified with another mobile number" in response.content.decode()
    prober.refresh_from_db()
    assert not prober.is_verified and prober.id_number_index is None
    assert AuditEvent.objects.filter(action="person.verify_conflict").count() == 1


def test_the_paid_provider_is_never_called_beyond_the_daily_cap_per_person(client, settings, counting):
    settings.IDENTITY_CHECK_LIMIT_PER_PERSON_DAY = 3
    person = sign_in(client)
    for _ in range(6):
        response = client.post("/identity/", {"legal_name": "李四", "id_number": ADULT_ID})
    assert counting.calls == 3
    assert "Too many identity checks today" in response.content.decode()
    assert IdentityCheck.objects.filter(person=person).count() == 3


def test_the_cap_per_phone_survives_erasing_and_recreating_the_person(client, settings, counting):
    settings.IDENTITY_CHECK_LIMIT_PER_PERSON_DAY = 2
    person = sign_in(client)
    for _ in range(2):
        client.post("/identity/", {"legal_name": "李四", "id_number": ADULT_ID})
    ghost = Person.objects.create(user=get_user_model().objects.create(username="ghost"), phone="erased-x")
    # What erasing and signing up again leaves: the checks belong to another person, the phone is the same.
    IdentityCheck.objects.filter(person=person).update(person=ghost)
    with pytest.raises(IdentityLimited):
        services.person_identity_verify(person=person, legal_name="李四", id_number=ADULT_ID)
    assert counting.calls == 2


def test_the_paid_provider_is_never_called_beyond_the_daily_cap_per_address(client_factory, settings, counting):
    settings.IDENTITY_CHECK_LIMIT_PER_IP_DAY = 2
    for i in range(4):
        browser = client_factory()
        sign_in(browser, phone=f"+861370000000{i}")
        browser.post("/identity/", {"legal_name": "李四", "id_number": ADULT_ID}, REMOTE_ADDR="198.51.100.9")
    assert counting.calls == 2
    assert IdentityCheck.objects.filter(ip="198.51.100.9").count() == 2


def test_guardian_checks_count_against_the_same_cap(settings, counting):
    settings.IDENTITY_CHECK_LIMIT_PER_PERSON_DAY = 1
    child = services.person_for_phone(phone=PHONE)
    services.guardian_verify(child=child, legal_name=NAME, id_number=OTHER_ADULT_ID, relationship="parent")
    with pytest.raises(IdentityLimited):
        services.guardian_verify(child=child, legal_name=NAME, id_number=OTHER_ADULT_ID, relationship="parent")
    assert counting.calls == 1


@pytest.mark.parametrize(
    ("count", "forwarded", "remote", "expected"),
    [
        (0, "203.0.113.7", "10.0.0.2", "10.0.0.2"),  # no proxy configured: the header is the client's invention
        (1, "203.0.113.7", "10.0.0.2", "203.0.113.7"),
        (1, "6.6.6.6, 203.0.113.7", "10.0.0.2", "203.0.113.7"),  # a spoofed entry on the left is ignored
        (2, "6.6.6.6, 203.0.113.7, 10.1.0.1", "10.0.0.2", "203.0.113.7"),
        (2, "203.0.113.7", "10.0.0.2", "10.0.0.2"),  # fewer hops than proxies: the request skipped them
        (1, "not-an-address", "10.0.0.2", "10.0.0.2"),
    ],
)
def test_client_ip_believes_only_the_trusted_proxies(settings, count, forwarded, remote, expected):
    settings.TRUSTED_PROXY_COUNT = count
    request = RequestFactory().get("/", HTTP_X_FORWARDED_FOR=forwarded, REMOTE_ADDR=remote)
    assert client_ip(request) == expected


def test_behind_the_load_balancer_each_client_has_its_own_address_limit(client, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    settings.SMS_SEND_LIMIT_PER_IP_HOUR = 1
    lb = {"REMOTE_ADDR": "10.0.0.2"}
    client.post("/signin/", {"phone": "+8613912340001"}, HTTP_X_FORWARDED_FOR="203.0.113.1", **lb)
    response = client.post("/signin/", {"phone": "+8613912340002"}, HTTP_X_FORWARDED_FOR="203.0.113.2", **lb)
    assert response.status_code == 302
    assert sorted(SmsSend.objects.values_list("ip", flat=True)) == ["203.0.113.1", "203.0.113.2"]


def test_the_identity_cap_is_explained_in_chinese(settings, counting):
    from django.utils import translation

    settings.IDENTITY_CHECK_LIMIT_PER_PERSON_DAY = 0
    person = services.person_for_phone(phone=PHONE)
    with pytest.raises(IdentityLimited) as refused:
        services.person_identity_verify(person=person, legal_name=NAME, id_number=ADULT_ID)
    with translation.override("zh-hans"):
        assert "今日身份核验次数过多" in str(refused.value)
    assert counting.calls == 0


def test_a_second_check_while_one_is_running_is_refused_without_calling_the_provider(settings, counting, monkeypatch):
    settings.IDENTITY_CHECK_LIMIT_PER_PERSON_DAY = 1
    person = services.person_for_phone(phone=PHONE)
    refused = []
    slow_provider = CountingVerifier.verify

    def verify_while_the_person_submits_again(self, name, id_number, phone):
        # The provider is slow: meanwhile the same person submits again (another tab, a script).
        try:
            services.person_identity_verify(person=person, legal_name=NAME, id_number=ADULT_ID)
        except IdentityLimited as exc:
            refused.append(str(exc))
        return slow_provider(self, name, id_number, phone)

    monkeypatch.setattr(CountingVerifier, "verify", verify_while_the_person_submits_again)
    services.person_identity_verify(person=person, legal_name=NAME, id_number=ADULT_ID)
    assert counting.calls == 1
    assert refused == ["An identity check is already running. Wait a moment, then try again."]
