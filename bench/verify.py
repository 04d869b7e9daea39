"""How long `POST /api/v1/tokens/verify` takes (the call before every generation job), p50/p95.

Beside it, in the same run, `GET /healthz` through the same test client and middleware: the floor any
request costs here. Data is made through the real services in a throwaway in-memory SQLite database.

    DJANGO_DEBUG=1 .venv/bin/python bench/verify.py          # writes bench/results/verify.txt
"""

import os
import platform
import time

from common import RESULTS, cast, django_setup, percentile, report, without_pdf_records

django_setup()

N = 500
RESULTS_FILE = RESULTS / "verify.txt"


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
    from consent import services
    from consent.builders import build_granted_consent
    from consent.models import ApiKey

    without_pdf_records()  # measured in bench/artifacts.py
    org, user, person = cast()
    consent = build_granted_consent(person=person, actor=user, organization=org)
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
    report(RESULTS_FILE, lines)


if __name__ == "__main__":
    main()
