"""How long output provenance takes: registering an output, and the public check by hash and by file, p50/p95.

Beside it, in the same run, `POST /api/v1/tokens/verify` (the call every registration follows) as the
baseline. The file check reads a labelled 256x256 PNG (AIGC label, receipt, C2PA attempt, pHash) against
a registry of N outputs with perceptual hashes (the similar search probes an index of hash quarters). In-memory SQLite.

    DJANGO_DEBUG=1 .venv/bin/python bench/provenance.py      # writes bench/results/provenance.txt
"""

import hashlib
import io
import os
import platform
import random
import tempfile
import time
from pathlib import Path

from common import RESULTS, cast, django_setup, percentile, report, without_pdf_records

django_setup()

N = 300
CHECKS = 100
RESULTS_FILE = RESULTS / "provenance.txt"


def timed(calls) -> list[float]:
    samples = []
    for call in calls:
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def picture() -> bytes:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (256, 256), (240, 230, 210))
    draw = ImageDraw.Draw(image)
    for n in range(8):
        draw.ellipse((n * 20, n * 25, n * 20 + 90, n * 25 + 90), fill=(30 * n, 90, 160))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def main():
    from django.test import Client
    from likeness_consent_client import label_file

    from consent import services
    from consent.builders import build_granted_consent
    from consent.models import ApiKey

    without_pdf_records()
    org, user, person = cast()
    consent = build_granted_consent(person=person, actor=user, organization=org)
    _, key = services.api_key_create(actor="bench", organization=org, name="b", scopes=list(ApiKey.Scope.values))
    client = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    body = {"token": consent.token.value, "modality": "face", "operation": "face_swap"}

    def verify():
        return client.post("/api/v1/tokens/verify", body, content_type="application/json").json()

    presentation_id = verify()["presentation_id"]
    rng = random.Random(7)
    registrations = []

    def register(n):
        answer = client.post(
            "/api/v1/outputs",
            {
                "presentation_id": presentation_id,
                "sha256": hashlib.sha256(f"output {n}".encode()).hexdigest(),
                "media_type": "image/png",
                "perceptual_hash": f"{rng.getrandbits(64):016x}",
            },
            content_type="application/json",
        )
        assert answer.status_code == 201, answer.content
        registrations.append(answer.json())

    baseline = timed([verify] * N)
    register_ms = timed([lambda n=n: register(n) for n in range(N)])

    content = picture()
    answer = client.post(
        "/api/v1/outputs",
        {"presentation_id": presentation_id, "sha256": hashlib.sha256(content).hexdigest(), "media_type": "image/png"},
        content_type="application/json",
    ).json()
    path = Path(tempfile.mkdtemp(prefix="bench-provenance-")) / "out.png"
    path.write_bytes(content)
    label_file(path, answer)
    labelled = path.read_bytes()
    public = Client()
    digest = registrations[0]["sha256"]
    by_hash = timed([lambda: public.get("/api/v1/provenance", {"sha256": digest})] * CHECKS)

    def by_file():
        response = public.post("/api/v1/provenance", {"file": io.BytesIO(labelled)})
        assert response.json()["registered"], response.content

    file_ms = timed([by_file] * CHECKS)
    rows = [
        ("POST /api/v1/tokens/verify (baseline)", baseline),
        ("POST /api/v1/outputs", register_ms),
        ("GET /api/v1/provenance?sha256=", by_hash),
        ("POST /api/v1/provenance (labelled PNG)", file_ms),
    ]
    lines = [
        f"# bench/provenance.py — {N} verify and {N} register calls, {CHECKS} checks each; registry of {N + 1}"
        " outputs; in-memory SQLite, test client, one process",
        f"# {platform.platform()}, Python {platform.python_version()}, {os.cpu_count()} CPUs,"
        f" load {os.getloadavg()[0]:.1f}",
        f"{'':40}{'p50 ms':>10}{'p95 ms':>10}",
        *[f"{name:40}{percentile(ms, 0.5):10.2f}{percentile(ms, 0.95):10.2f}" for name, ms in rows],
    ]
    report(RESULTS_FILE, lines)


if __name__ == "__main__":
    main()
