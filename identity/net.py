"""The client's address, the one helper every limit and log reads (never REMOTE_ADDR directly)."""

import ipaddress

from django.conf import settings


def _valid(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def client_ip(request) -> str | None:
    """REMOTE_ADDR, or behind TRUSTED_PROXY_COUNT proxies the address the outermost trusted proxy saw.

    Behind a load balancer every request shares REMOTE_ADDR, so per-address limits would throttle everyone
    at once. Only the entries our own proxies appended are believed: the leftmost ones are the client's
    to choose, and a request that skipped the proxies (too few entries) is judged by REMOTE_ADDR.
    """
    remote = _valid(request.META.get("REMOTE_ADDR", "") or "")
    count = settings.TRUSTED_PROXY_COUNT
    if count <= 0:
        return remote
    hops = [hop for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    if len(hops) < count:
        return remote
    return _valid(hops[-count]) or remote
