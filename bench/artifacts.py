"""How long a consent record takes: render (WeasyPrint, PDF/A-3b) and sign (pyHanko), p50/p95 over 50 consents.

Beside it, in the same run, a plain WeasyPrint render of a one-line page: the floor any PDF costs here.
Data is made through the real services in a throwaway in-memory SQLite database; media go to a
temporary folder. The automatic render after each grant is switched off so every record is timed here.

    DJANGO_DEBUG=1 .venv/bin/python bench/artifacts.py        # writes bench/results/artifacts.txt
"""

import os
import platform
import time

from common import RESULTS, cast, django_setup, percentile, report, without_pdf_records

django_setup()

from django.utils import timezone  # noqa: E402

from consent.builders import build_granted_consent, face_item  # noqa: E402
from consent.models import Consent  # noqa: E402
from consent.services import SampleInput  # noqa: E402

N = 50
RESULTS_FILE = RESULTS / "artifacts.txt"


def photo(seed: int) -> bytes:
    """A 640x480 JPEG, about the size of a reference photo's thumbnail source."""
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (640, 480), (seed % 256, 90, 160)).save(out, "JPEG", quality=85)
    return out.getvalue()


def make_consents(n: int) -> list[int]:
    without_pdf_records()  # timed below instead
    org, operator, person = cast()
    items = [
        face_item(
            operations=["face_swap", "attribute_editing"],
            purpose=f"电影配音预告片 {i} Film dubbing trailer {i}",
            usage="抖音频道 Douyin channel",
            samples=[SampleInput("face.jpg", photo(i)), SampleInput("face2.jpg", photo(i + 100))],
        )
        for i in range(n)
    ]
    notice = {
        "retention_days": 30,
        "notice_withdrawal": "可随时在门户撤回，立即生效。Withdraw at any time in the portal; effective at once.",
    }
    return [
        build_granted_consent(person=person, actor=operator, organization=org, items=[item], **notice).pk
        for item in items
    ]


def load_consent(consent_id: int) -> Consent:
    """The consent with everything its record shows, in the few queries the render task makes."""
    return (
        Consent.objects.select_related("organization", "person", "guardian", "item__request")
        .prefetch_related("item__samples")
        .get(pk=consent_id)
    )


def main() -> None:
    from weasyprint import HTML

    from consent.records.render import artifact_render
    from consent.records.sign import pdf_sign, signing_material

    load = os.getloadavg()
    ids = make_consents(N)
    signing_material()
    artifact_render(load_consent(ids[0]), "grant")  # warm-up: fonts, templates

    plain, render, sign, total, sizes = [], [], [], [], []
    for consent_id in ids:
        start = time.perf_counter()
        HTML(string="<p>One line.</p>").write_pdf()
        plain.append(time.perf_counter() - start)

        consent = load_consent(consent_id)
        start = time.perf_counter()
        pdf = artifact_render(consent, "grant")
        rendered = time.perf_counter()
        signed = pdf_sign(pdf, reason=f"bench #{consent_id}")
        done = time.perf_counter()
        render.append(rendered - start)
        sign.append(done - rendered)
        total.append(done - start)
        sizes.append(len(signed))

    def row(name: str, values: list[float]) -> str:
        p50, p95 = percentile(values, 0.5) * 1000, percentile(values, 0.95) * 1000
        return f"{name:<34} p50 {p50:7.1f} ms   p95 {p95:7.1f} ms"

    lines = [
        f"consent records: render + sign, {N} consents (bench/artifacts.py)",
        f"when: {timezone.now():%Y-%m-%d %H:%M %Z}; python {platform.python_version()}; {platform.machine()}, "
        f"{os.cpu_count()} cpu; load average before the run {load[0]:.2f}",
        row("plain WeasyPrint one-line page", plain),
        row("record render (PDF/A-3b + receipt)", render),
        row("record sign (PAdES B-B)", sign),
        row("record render + sign", total),
        f"{'record size':<34} p50 {percentile(sizes, 0.5) / 1024:7.1f} KiB",
    ]
    report(RESULTS_FILE, lines)


if __name__ == "__main__":
    main()
