"""Webhook URLs reach the public internet only: checked when saved and again at every delivery,
connecting to the address that was checked; the delivery log says what happened in words."""

import threading

import pytest
from django.utils import translation

from consent.errors import InvalidRequest
from consent.models import WebhookDelivery, WebhookEndpoint
from consent.netguard import AddressRefused, resolve_public
from consent.services import webhook_endpoint_set
from consent.templatetags.consent_labels import delivery_error
from tests.consent import test_webhooks
from tests.consent.test_webhooks import event_of, grant, local_endpoint_set

# The local receiver and Pat (verified, request opened) come from the webhook tests.
receiver = test_webhooks.receiver
pat = test_webhooks.pat

REFUSED = [
    "127.0.0.1",
    "127.8.9.10",
    "10.1.2.3",
    "172.16.0.1",
    "192.168.1.1",
    "169.254.169.254",  # cloud metadata
    "100.100.100.200",  # Alibaba Cloud metadata (shared address space)
    "100.64.0.1",
    "0.0.0.0",  # noqa: S104
    "224.0.0.1",
    "240.0.0.1",
    "255.255.255.255",
    "::1",
    "::",
    "fe80::1",
    "fc00::1",
    "fd00:ec2::254",
    "ff02::1",
    "::ffff:127.0.0.1",  # IPv4-mapped
    "::ffff:169.254.169.254",
    "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
    "2002:7f00:1::",  # 6to4 of 127.0.0.1
    "localhost",
    "localhost.",
    "hooks.localhost",
    "HOOKS.LOCALHOST.",
    "internal.example.com",  # a name that resolves to a private address
    "internal.example.com.",
]


@pytest.mark.parametrize("host", REFUSED)
def test_private_loopback_metadata_and_reserved_hosts_are_refused(settings, host):
    settings.DEBUG = False
    with pytest.raises(AddressRefused) as caught:
        resolve_public(host, 443)
    assert caught.value.reason == "not_public"


def test_a_name_is_refused_if_any_of_its_addresses_is_internal(fake_dns):
    fake_dns["mixed.example.com"] = ["93.184.215.14", "10.0.0.7"]
    with pytest.raises(AddressRefused):
        resolve_public("mixed.example.com", 443)


@pytest.mark.parametrize("host", ["93.184.215.14", "2606:4700:4700::1111", "hooks.example.com", "hooks.example.com."])
def test_public_hosts_pass(host):
    assert resolve_public(host, 443)


def test_an_unknown_name_is_unresolvable():
    with pytest.raises(AddressRefused) as caught:
        resolve_public("nowhere.example.org", 443)
    assert caught.value.reason == "unresolvable"


def test_loopback_is_allowed_in_development_but_private_networks_are_not(settings):
    settings.DEBUG = True
    assert [str(a) for a in resolve_public("127.0.0.1", 80)] == ["127.0.0.1"]
    assert resolve_public("localhost", 80)
    with pytest.raises(AddressRefused):
        resolve_public("10.0.0.5", 80)


# ---- when the URL is saved ----------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://internal.example.com/hook", "public address"),
        ("https://internal.example.com./hook", "public address"),
        ("https://[::ffff:127.0.0.1]/hook", "public address"),
        ("https://[fd00:ec2::254]/hook", "public address"),
        ("https://169.254.169.254/latest/meta-data", "public address"),
        ("https://nowhere.example.org/hook", "cannot be found"),
    ],
)
def test_saving_a_url_resolves_its_host_and_refuses_internal_ones(settings, operator, organization, url, message):
    settings.DEBUG = False
    with pytest.raises(InvalidRequest) as caught:
        webhook_endpoint_set(actor=operator, organization=organization, url=url)
    assert any(message in error for error in caught.value.fields["url"]), caught.value.fields
    assert not WebhookEndpoint.objects.exists()


# ---- at every delivery --------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_name_that_turns_private_after_it_was_saved_is_refused_at_delivery(
    settings, fake_dns, receiver, operator, organization, pat, pending_request
):
    port = receiver.server.server_address[1]
    fake_dns["rebind.example.com"] = ["93.184.215.14"]
    local_endpoint_set(actor=operator, organization=organization, url=f"http://rebind.example.com:{port}/hooks/consent")
    fake_dns["rebind.example.com"] = ["127.0.0.1"]  # the name now points at the platform itself
    settings.WEBHOOK_ALLOW_LOOPBACK = False

    grant(pat, pending_request)

    delivery = WebhookDelivery.objects.get(event=event_of("consent.granted"))
    assert (delivery.status_code, delivery.error) == (None, "address not allowed")
    assert receiver.received == []


@pytest.mark.django_db
def test_delivery_connects_to_the_checked_address_and_keeps_the_host_name(
    fake_dns, receiver, operator, organization, pat, pending_request
):
    port = receiver.server.server_address[1]
    # Only the checked answer knows this name: a client that resolved it again itself would fail.
    fake_dns["pinned.example.com"] = ["127.0.0.1"]
    _endpoint, receiver.secret = local_endpoint_set(
        actor=operator, organization=organization, url=f"http://pinned.example.com:{port}/hooks/consent"
    )

    grant(pat, pending_request)

    assert event_of("consent.granted").state == "delivered"
    assert receiver.received[0]["headers"]["host"] == f"pinned.example.com:{port}"
    assert receiver.received[0]["valid"]


@pytest.mark.django_db
def test_a_timeout_is_logged_in_words(settings, receiver, operator, organization, pat, pending_request):
    settings.WEBHOOK_TIMEOUT = 0.2
    receiver.gate = threading.Event()  # the receiver holds its answer until the fixture releases it
    _endpoint, receiver.secret = local_endpoint_set(actor=operator, organization=organization, url=receiver.url)

    grant(pat, pending_request)

    assert WebhookDelivery.objects.get(event=event_of("consent.granted")).error == "timed out"


def test_the_delivery_log_shows_words_in_both_languages_and_never_raw_errors():
    with translation.override("en"):
        assert delivery_error("unreachable") == "unreachable"
        assert delivery_error("ConnectError: [Errno 111] Connection refused (10.0.0.3)") == "unreachable"
        assert delivery_error("HTTP 500") == ""  # the status code is shown beside it
    with translation.override("zh-hans"):
        assert delivery_error("timed out") == "超时"
        assert delivery_error("unreachable") == "无法连接"
        assert delivery_error("address not allowed") == "地址不允许（不是公网地址）"
