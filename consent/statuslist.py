"""Token Status Lists (draft-ietf-oauth-status-list): slot allocation, bit flips and the list's claims.

One bit per token, packed least significant bit first: bit `i` is bit `i % 8` of byte `i // 8`;
0 = valid, 1 = invalid. Lists hold ≥ 131 072 slots and slots are drawn at random, so fetching a list
says nothing about any one token (herd privacy) and an index says nothing about when it was issued.
Signing the list lives in `consent.tokens`; this module knows nothing of keys.
"""

import base64
import secrets
import zlib
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Max

from consent.models import ConsentToken, StatusList

__all__ = [
    "STATUS_LIST_LIFETIME",
    "STATUS_LIST_MIN_SIZE",
    "STATUS_LIST_TTL",
    "bit_get",
    "lst_decode",
    "lst_encode",
    "status_list_cache_fresh",
    "status_list_claims",
    "status_list_uri",
    "status_slot_allocate",
    "status_slot_invalidate",
]

STATUS_LIST_MIN_SIZE = 131072
# Relying parties re-fetch after `ttl`; `exp` bounds how long a copy they hold (or a cache in front of
# us) may be trusted at all. A cached list token is re-signed once less than `ttl` of it is left.
STATUS_LIST_TTL = 300
STATUS_LIST_LIFETIME = timedelta(hours=1)
_DRAWS_PER_QUERY = 8
_LIST_CREATE_LOCK_ID = 0x5354_4C53  # "STLS": creating a new status list


def status_list_uri(number: int) -> str:
    return f"{settings.SITE_URL}/api/v1/status-lists/{number}"


def bit_get(bits: bytes, index: int) -> int:
    return (bits[index // 8] >> (index % 8)) & 1


def lst_encode(bits: bytes) -> str:
    return base64.urlsafe_b64encode(zlib.compress(bits, 9)).rstrip(b"=").decode()


def lst_decode(lst: str) -> bytes:
    return zlib.decompress(base64.urlsafe_b64decode(lst + "=" * (-len(lst) % 4)))


def _first_open_list() -> StatusList | None:
    return (
        StatusList.objects.select_for_update()
        .defer("bits", "token")
        .filter(allocated__lt=F("size"))
        .order_by("number")
        .first()
    )


def _open_list_locked() -> StatusList:
    """The oldest list with a free slot, locked; a new list when all are full.

    Creating a list is serialised by a named lock held to the end of the transaction: a transaction
    that found no list waits for the one creating it, then finds that list instead of making another.
    """
    status_list = _first_open_list()
    if status_list is not None:
        return status_list
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LIST_CREATE_LOCK_ID])
    status_list = _first_open_list()
    if status_list is not None:
        return status_list
    number = (StatusList.objects.aggregate(Max("number"))["number__max"] or 0) + 1
    StatusList.objects.create(number=number, size=STATUS_LIST_MIN_SIZE, bits=bytes(STATUS_LIST_MIN_SIZE // 8))
    return _first_open_list()


def _free_index(status_list: StatusList) -> int:
    taken = ConsentToken.objects.filter(status_list=status_list)
    # Random draws first: while the list is not nearly full, one query finds a free slot.
    candidates = {secrets.randbelow(status_list.size) for _ in range(_DRAWS_PER_QUERY)}
    used = set(taken.filter(status_index__in=candidates).values_list("status_index", flat=True))
    free = sorted(candidates - used)
    if free:
        return free[secrets.randbelow(len(free))]
    used = set(taken.values_list("status_index", flat=True))
    free = [index for index in range(status_list.size) if index not in used]
    return free[secrets.randbelow(len(free))]


def status_slot_allocate() -> tuple[StatusList, int]:
    """Reserve a random free slot; call inside the transaction that creates the ConsentToken.

    The list row stays locked until that transaction ends, which serialises allocation per list; the
    unique (status_list, status_index) constraint is the backstop.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("status_slot_allocate must run inside the token's transaction")
    status_list = _open_list_locked()
    index = _free_index(status_list)
    status_list.allocated += 1  # the row is locked, so the value read is current
    status_list.save(update_fields=["allocated", "updated_at"])
    return status_list, index


def status_slot_invalidate(*, status_list_id: int, index: int) -> StatusList:
    """Set the slot's bit to 1 (invalid) and drop the cached list token, in the caller's transaction."""
    with transaction.atomic():
        status_list = StatusList.objects.select_for_update().get(pk=status_list_id)
        bits = bytearray(status_list.bits)
        bits[index // 8] |= 1 << (index % 8)
        status_list.bits = bytes(bits)
        status_list.token = ""
        status_list.token_issued_at = None
        status_list.save(update_fields=["bits", "token", "token_issued_at", "updated_at"])
    return status_list


def status_list_cache_fresh(status_list: StatusList, *, now: datetime) -> bool:
    """A cached list token is served while at least `ttl` of its lifetime is left."""
    if not status_list.token or status_list.token_issued_at is None:
        return False
    return now < status_list.token_issued_at + STATUS_LIST_LIFETIME - timedelta(seconds=STATUS_LIST_TTL)


def status_list_claims(status_list: StatusList, *, now: datetime) -> dict:
    iat = int(now.timestamp())
    return {
        "sub": status_list_uri(status_list.number),
        "iat": iat,
        "exp": iat + int(STATUS_LIST_LIFETIME.total_seconds()),
        "ttl": STATUS_LIST_TTL,
        "status_list": {"bits": 1, "lst": lst_encode(bytes(status_list.bits))},
    }
