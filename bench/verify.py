"""How long `POST /api/v1/tokens/verify` takes (the call before every generation job), p50/p95.

Beside it, in the same run, `GET /healthz` through the same test client and middleware: the floor any
request costs here. Data is made through the real services in a throwaway in-memory SQLite database.

    DJANGO_DEBUG=1 .venv/bin/python bench/verify.py          # writes bench/results/verify.txt
"""

import os
import platform
import secrets
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DJANGO_DEBUG", "1")
os.environ["DATABASE_URL"] = "sqlite://:memory:"
os.environ["API_RATE_LIMIT"] = "1000000/min"

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

N = 500
RESULTS = ROOT / "bench" / "results" / "verify.txt"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def timed(call) -> list[float]:
    for _ in range(20):  # warm caches and connections
        call()
    samples = []
    for _ in range(N):
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def main():
    setup_test_environment()
    settings.MEDIA_ROOT = tempfile.mkdtemp()
    settings.ALLOWED_HOSTS = ["*"]
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    import consent.services.artifacts as artifacts
    from consent import services
    from consent.models import ApiKey
    from consent.services.decisions import _grant
    from identity.services import (
        membership_set,
        operator_create,
        organization_create,
        person_for_phone,
        person_identity_verify,
    )
    from tests.consent.conftest import request_input

    artifacts.artifact_queue = lambda **kwargs: None  # PDFs are measured in bench/artifacts.py
    org = organization_create(
        actor="bench",
        name="Bench",
        uscc="91350100M000100Y43",
        privacy_contact_name="P",
        privacy_contact_email="p@b.test",
        privacy_contact_phone="+8613800138000",
        address="X",
    )
    user = operator_create(actor="bench", username="bench", password=secrets.token_urlsafe(16))
    membership_set(actor="bench", user=user, organization=org, role="owner")
    person = person_identity_verify(
        person=person_for_phone(phone="+8613912345678"), legal_name="张三", id_number="11010519491231002X"
    )
    request = services.request_create(actor=user, organization=org, data=request_input())
    services.request_open(person=person, code=request.code)
    consent = _grant(person=person, item_id=request.items.get(position=1).pk)
    _, key = services.api_key_create(actor="bench", organization=org, name="b", scopes=list(ApiKey.Scope.values))

    from django.test import Client

    client = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    body = {"token": consent.token.value, "modality": "face", "operation": "face_swap"}
    assert client.post("/api/v1/tokens/verify", body, content_type="application/json").json()["active"]

    health = timed(lambda: client.get("/healthz"))
    verify = timed(lambda: client.post("/api/v1/tokens/verify", body, content_type="application/json"))
    lines = [
        f"# bench/verify.py — {N} calls each after 20 warm-up calls; in-memory SQLite, test client, one process",
        f"# {platform.platform()}, Python {platform.python_version()}, {os.cpu_count()} CPUs,"
        f" load {os.getloadavg()[0]:.1f}",
        f"{'':32}{'p50 ms':>10}{'p95 ms':>10}",
        f"{'GET /healthz (baseline)':32}{percentile(health, 0.5):10.2f}{percentile(health, 0.95):10.2f}",
        f"{'POST /api/v1/tokens/verify':32}{percentile(verify, 0.5):10.2f}{percentile(verify, 0.95):10.2f}",
    ]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    connection.close()


if __name__ == "__main__":
    main()
