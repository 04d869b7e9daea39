"""The scenarios of `make bench` that are timed inside one process, on the stack (production settings).

    python bench/inproc.py verifier --base-url URL --token T --audience ORG --n 20000
    python bench/inproc.py grant --n 20        # grant latency, and grant -> signed PDF through the worker
    python bench/inproc.py render --n 20       # render + sign one record, in this process

Each prints one JSON object with its measure and, where there is one, its baseline from the same run.
"""

import argparse
import base64
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


def _ms(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000, 2)


def verifier(base_url: str, token: str, audience: str, n: int) -> dict:
    """The Python client's offline Verifier per token, beside one raw Ed25519 signature check of it."""
    import httpx
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from likeness_consent_client import Verifier

    offline = Verifier(base_url, audience=audience, http=httpx.Client(timeout=10))
    assert offline.verify(token, modality="face", operation="face_swap").active, "the bench token must verify"
    header_b64, payload_b64, sig_b64 = token.split(".")
    kid = json.loads(base64.urlsafe_b64decode(header_b64 + "=" * (-len(header_b64) % 4)))["kid"]
    jwk = next(k for k in httpx.get(f"{base_url}/.well-known/jwks.json").json()["keys"] if k["kid"] == kid)
    public = Ed25519PublicKey.from_public_bytes(base64.urlsafe_b64decode(jwk["x"] + "=" * (-len(jwk["x"]) % 4)))
    signing_input = f"{header_b64}.{payload_b64}".encode()
    signature = base64.urlsafe_b64decode(sig_b64 + "=" * (-len(sig_b64) % 4))

    def raw():
        public.verify(signature, signing_input)  # raises on a bad signature

    def client():
        offline.verify(token, modality="face", operation="face_swap")

    rounds = {"raw": [], "verifier": []}
    for _ in range(20):  # interleaved, so that a neighbour's load hits both alike
        for name, call in (("raw", raw), ("verifier", client)):
            start = time.perf_counter()
            for _ in range(n // 20):
                call()
            rounds[name].append((time.perf_counter() - start) / (n // 20))
    # The fastest round of each: other processes only ever add time, so the minimum is the least noisy.
    raw_us = min(rounds["raw"]) * 1e6
    verifier_us = min(rounds["verifier"]) * 1e6
    return {
        "raw_ed25519_us": round(raw_us, 1),
        "verifier_us": round(verifier_us, 1),
        "ratio": round(verifier_us / raw_us, 2),
    }


def _django():
    import django

    django.setup()


def grant(n: int) -> dict:
    """A person's grant (the service behind the portal's button) and the signed PDF the worker makes of it."""
    _django()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from consent.builders import build_request
    from consent.models import Artifact, ConsentRequest
    from consent.services import consent_grant, request_open
    from identity.models import Organization, Person, User

    organization = Organization.objects.order_by("id").first()
    operator = User.objects.get(username="bench-operator")
    person = Person.objects.order_by("id").first()
    answer, to_pdf, cpu, statements = [], [], [], []
    for i in range(n):
        request = build_request(
            actor=operator, organization=organization, phone=person.phone, end_user_reference=f"g{i}"
        )
        request = ConsentRequest.objects.get(pk=request.pk)
        item_id = request.items.get(position=1).pk
        request_open(person=person, code=request.code)
        start, start_cpu = time.perf_counter(), time.process_time()
        with CaptureQueriesContext(connection) as queries:
            consent = consent_grant(actor=person, item_id=item_id)
        answer.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)  # this process only: the database's own work is not in it
        statements.append(len(queries.captured_queries))
        deadline = time.monotonic() + 60
        while not Artifact.objects.filter(consent=consent, kind=Artifact.Kind.GRANT).exists():
            if time.monotonic() > deadline:
                raise RuntimeError("the worker made no PDF within 60 s")
            time.sleep(0.01)
        to_pdf.append(time.perf_counter() - start)
    return {
        "n": n,
        "grant_p50_ms": _ms(answer, 0.5),
        "grant_p95_ms": _ms(answer, 0.95),
        "pdf_p50_ms": _ms(to_pdf, 0.5),
        "pdf_p95_ms": _ms(to_pdf, 0.95),
        "grant_cpu_p50_ms": _ms(cpu, 0.5),
        "grant_sql_statements": max(statements),
    }


def render(n: int) -> dict:
    """Render + sign of one record, beside a plain WeasyPrint render of a one-line page."""
    _django()
    from consent.models import Consent
    from consent.records.render import artifact_build, html_to_pdfa

    consents = list(Consent.objects.order_by("id")[:n])
    artifact_build(consents[0], "grant")  # fonts and templates loaded once, as in a long-lived worker
    floor, build, cpu = [], [], []
    for consent in consents:
        start = time.perf_counter()
        html_to_pdfa("<p>floor</p>")
        floor.append(time.perf_counter() - start)
        start, start_cpu = time.perf_counter(), time.process_time()
        artifact_build(consent, "grant")
        build.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)  # less sensitive to other processes than the wall clock
    return {
        "n": len(consents),
        "render_sign_p50_ms": _ms(build, 0.5),
        "render_sign_p95_ms": _ms(build, 0.95),
        "render_sign_cpu_p50_ms": _ms(cpu, 0.5),
        "one_line_pdf_p50_ms": _ms(floor, 0.5),
    }


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    v = sub.add_parser("verifier")
    v.add_argument("--base-url", required=True)
    v.add_argument("--token", required=True)
    v.add_argument("--audience", required=True)
    v.add_argument("--n", type=int, default=20000)
    sub.add_parser("grant").add_argument("--n", type=int, default=20)
    sub.add_parser("render").add_argument("--n", type=int, default=20)
    args = parser.parse_args()
    if args.command == "verifier":
        result = verifier(args.base_url, args.token, args.audience, args.n)
    elif args.command == "grant":
        result = grant(args.n)
    else:
        result = render(args.n)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
