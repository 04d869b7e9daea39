"""What `POST /api/v1/tokens/verify` costs in one process (the call before every generation job), in CPU time.

Beside it, in the same run and interleaved round by round: the bare JSON view (`make bench`'s floor),
`GET /healthz`, and the same verify call answered by the framework view (TokenVerifyApi, which the lean
path hands a call it leaves alone: here one carrying the RFC 7662 `token_type_hint` field), so the
lean path's gain is measured against the path it replaces under the same load. CPU time of this process
(time.process_time: the in-memory SQLite database runs in it too), the fastest of 20 rounds per scenario,
since other processes' load only ever adds to it. Data is made through the real services.

    DJANGO_DEBUG=1 .venv/bin/python bench/verify.py          # writes bench/results/verify.txt
"""

import os
import platform
import time

from common import RESULTS, cast, django_setup, report, without_pdf_records

django_setup()

ROUNDS, PER_ROUND = 20, 25
RESULTS_FILE = RESULTS / "verify.txt"


def main():
    from django.conf import settings
    from django.test import Client

    from consent import services
    from consent.builders import build_granted_consent
    from consent.models import ApiKey

    settings.BENCH_BARE_VIEW = True
    without_pdf_records()  # measured in bench/artifacts.py
    org, user, person = cast()
    consent = build_granted_consent(person=person, actor=user, organization=org)
    _, key = services.api_key_create(actor="bench", organization=org, name="b", scopes=list(ApiKey.Scope.values))

    client = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    body = {"token": consent.token.value, "modality": "face", "operation": "face_swap"}
    framework_body = body | {"token_type_hint": "consent+jwt"}
    scenarios = {
        "bare JSON view (floor)": lambda: client.get("/bench/bare"),
        "GET /healthz": lambda: client.get("/healthz"),
        "verify, lean path": lambda: client.post("/api/v1/tokens/verify", body, content_type="application/json"),
        "verify, framework view": lambda: client.post(
            "/api/v1/tokens/verify", framework_body, content_type="application/json"
        ),
    }
    for call in scenarios.values():
        for _ in range(20):  # warm caches, connections, the signing-key copy
            response = call()
        assert response.status_code == 200, response.content
    best = dict.fromkeys(scenarios, float("inf"))
    for _ in range(ROUNDS):
        for name, call in scenarios.items():
            start = time.process_time()
            for _ in range(PER_ROUND):
                call()
            best[name] = min(best[name], (time.process_time() - start) / PER_ROUND)
    floor = best["bare JSON view (floor)"]
    lines = [
        f"# bench/verify.py — CPU time per call, fastest of {ROUNDS} interleaved rounds of {PER_ROUND};"
        " in-memory SQLite, test client, one process",
        f"# {platform.platform()}, Python {platform.python_version()}, {os.cpu_count()} CPUs,"
        f" load {os.getloadavg()[0]:.1f}",
        f"{'':32}{'CPU µs':>10}{'× bare':>10}",
        *(f"{name:32}{seconds * 1e6:10.0f}{seconds / floor:10.2f}" for name, seconds in best.items()),
    ]
    report(RESULTS_FILE, lines)


if __name__ == "__main__":
    main()
