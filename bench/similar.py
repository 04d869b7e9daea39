"""The public check's "similar" search: the index of hash quarters against a scan of every registered hash.

A registry of N outputs with random 64-bit perceptual hashes (plus a few near the queries); each query is
timed through `consent.provenance.check._similar` (the index) and through a scan of every hash (what it
replaced, the baseline), alternating, in the same process. Both must find the same outputs. In-memory SQLite.

    DJANGO_DEBUG=1 .venv/bin/python bench/similar.py      # writes bench/results/similar.txt
"""

import os
import platform
import random
import sys
import time

from common import RESULTS, cast, django_setup, percentile, report, without_pdf_records

django_setup()

N = int(os.environ.get("BENCH_SIMILAR_OUTPUTS", "100000"))
QUERIES = 30
RESULTS_FILE = RESULTS / "similar.txt"


def scan(query: str, limit: int) -> list[tuple[int, int]]:
    from consent.models import Output

    found = []
    for pk, other in Output.objects.exclude(perceptual_hash="").values_list("pk", "perceptual_hash").iterator():
        distance = (int(query, 16) ^ int(other, 16)).bit_count()
        if distance <= limit:
            found.append((distance, pk))
    return sorted(found)


def main():
    from django.conf import settings

    from consent import services
    from consent.builders import build_granted_consent, build_outputs_like
    from consent.models import ApiKey, Output, Presentation
    from consent.provenance import check

    without_pdf_records()
    org, user, person = cast()
    consent = build_granted_consent(person=person, actor=user, organization=org)
    key, _secret = services.api_key_create(actor="bench", organization=org, name="b", scopes=list(ApiKey.Scope.values))
    presentation = Presentation.objects.create(
        consent=consent, organization=org, api_key=key, modality="face", operation="face_swap", result="active"
    )
    rng = random.Random(7)
    queries = [rng.getrandbits(64) for _ in range(QUERIES)]
    hashes = [rng.getrandbits(64) for _ in range(N - QUERIES * 3)]
    for query in queries:  # three neighbours per query, 1 to 6 bits away
        for flips in (1, 3, 6):
            near = query
            for bit in rng.sample(range(64), flips):
                near ^= 1 << bit
            hashes.append(near)
    started = time.perf_counter()
    like = Output(organization=org, consent=consent, presentation=presentation, api_key=key, media_type="image/png")
    for start in range(0, len(hashes), 10_000):
        build_outputs_like(like, [f"{value:016x}" for value in hashes[start : start + 10_000]])
    seeded_s = time.perf_counter() - started
    check.SIMILAR_LIMIT = N  # every neighbour, so that both ways can be compared
    limit = settings.PROVENANCE_SIMILAR_MAX_DISTANCE
    index_ms, scan_ms = [], []
    for query in queries:
        text = f"{query:016x}"
        start = time.perf_counter()
        expected = scan(text, limit)
        scan_ms.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        result = check.ProvenanceReport(sha256="")
        check._similar(result, text)
        index_ms.append((time.perf_counter() - start) * 1000)
        found = [(finding.distance, finding.output.pk) for finding in result.similar]
        if found != expected:
            sys.exit(f"the index and the scan disagree for {text}: {found} != {expected}")
    lines = [
        f"# bench/similar.py — registry of {N} outputs (seeded in {seeded_s:.0f} s), {QUERIES} queries,"
        f" distance ≤ {limit}; in-memory SQLite, one process; both ways found the same outputs",
        f"# {platform.platform()}, Python {platform.python_version()}, {os.cpu_count()} CPUs,"
        f" load {os.getloadavg()[0]:.1f}",
        f"{'':44}{'p50 ms':>10}{'p95 ms':>10}",
        f"{'scan of every hash (baseline)':44}{percentile(scan_ms, 0.5):10.2f}{percentile(scan_ms, 0.95):10.2f}",
        f"{'index of hash quarters (OutputHashBand)':44}{percentile(index_ms, 0.5):10.2f}"
        f"{percentile(index_ms, 0.95):10.2f}",
    ]
    report(RESULTS_FILE, lines)


if __name__ == "__main__":
    main()
