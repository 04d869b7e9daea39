"""Outgoing requests to addresses a customer chose (webhooks) reach the public internet only.

A webhook URL is a request the platform makes on a customer's say-so (SSRF). A name is resolved and
every address it has is checked; the connection then goes to the checked address, so a DNS answer
that changes between check and connect (rebinding) cannot redirect it. Refused: private, loopback,
link-local (cloud metadata at 169.254.169.254), shared (100.64/10, Alibaba Cloud's metadata
100.100.100.200), multicast, reserved and unspecified addresses, including IPv4 addresses embedded
in IPv6 (mapped, NAT64, 6to4), and the names `localhost` and `*.localhost` with or without a
trailing dot. Loopback is allowed in development (DEBUG) for a receiver on the developer's machine.
"""

import ipaddress
import socket

import httpx
from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

METADATA = {
    ipaddress.ip_address("169.254.169.254"),  # AWS, GCP, Azure, Tencent Cloud
    ipaddress.ip_address("100.100.100.200"),  # Alibaba Cloud
    ipaddress.ip_address("fd00:ec2::254"),  # AWS over IPv6
}
NAT64 = ipaddress.ip_network("64:ff9b::/96")


class AddressRefused(Exception):
    """Why a host may not be contacted: `reason` is "not_public" or "unresolvable"."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


def loopback_allowed() -> bool:
    # WEBHOOK_ALLOW_LOOPBACK is not a deployment setting (nothing reads it from the environment): tests set it
    # to deliver to their local receiver while the rest of the code runs as in production (DEBUG off).
    return settings.DEBUG or getattr(settings, "WEBHOOK_ALLOW_LOOPBACK", False)


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped:
        return address.ipv4_mapped
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour  # Teredo (2001::/32) is not global and is refused as it stands


def address_refusal(address: IPAddress) -> str | None:
    """None if `address` may be contacted, else "loopback" or "not_public"."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = _embedded_ipv4(address)
        if inner is not None:
            return address_refusal(inner)
    if address.is_loopback:
        return "loopback"
    if (
        address in METADATA
        or not address.is_global
        or address.is_multicast
        or address.is_reserved
        or address.is_link_local
        or address.is_private
        or address.is_unspecified
    ):
        return "not_public"
    return None


def _resolve(host: str, port: int) -> list[str]:
    """The addresses of `host` as strings (the one place that asks DNS; tests replace it)."""
    return [info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]


def resolve_public(host: str, port: int) -> list[IPAddress]:
    """The addresses of `host`, each one allowed, or AddressRefused. All must pass, not just one."""
    name = (host or "").strip().rstrip(".").lower()
    if not name:
        raise AddressRefused("unresolvable")
    if (name == "localhost" or name.endswith(".localhost")) and not loopback_allowed():
        raise AddressRefused("not_public")
    try:
        raw = _resolve(name, port)
    except (OSError, UnicodeError) as exc:  # gaierror is an OSError; a bad IDN label a UnicodeError
        raise AddressRefused("unresolvable") from exc
    addresses = []
    for text in dict.fromkeys(raw):
        address = ipaddress.ip_address(text.split("%", 1)[0])  # drop an IPv6 zone ("fe80::1%eth0")
        refusal = address_refusal(address)
        if refusal == "not_public" or (refusal == "loopback" and not loopback_allowed()):
            raise AddressRefused("not_public")
        addresses.append(address)
    if not addresses:
        raise AddressRefused("unresolvable")
    return addresses


class PinnedTransport(httpx.HTTPTransport):
    """Connect to one checked address while the request keeps its name (Host header, TLS SNI and certificate)."""

    def __init__(self, address: IPAddress, **kwargs):
        super().__init__(**kwargs)
        self.address = address

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        hostname = request.url.host
        # The Host header was fixed when the request was built; httpcore checks the certificate against
        # the `sni_hostname`, so https still proves it is talking to `hostname`.
        request.url = request.url.copy_with(host=str(self.address))
        request.extensions = {**request.extensions, "sni_hostname": hostname}
        return super().handle_request(request)
