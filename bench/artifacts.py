"""How long a consent record takes: render (WeasyPrint, PDF/A-3b) and sign (pyHanko), p50/p95 over 50 consents.

Beside it, in the same run, a plain WeasyPrint render of a one-line page: the floor any PDF costs here.
Data is made through the real services in a throwaway in-memory SQLite database; media go to a
temporary folder. The automatic render after each grant is switched off so every record is timed here.

    DJANGO_DEBUG=1 .venv/bin/python bench/artifacts.py        # writes bench/results/artifacts.txt
"""

import os
import platform
import time
from datetime import timedelta

from common import RESULTS, cast, django_setup, percentile

django_setup()

from django.utils import timezone  # noqa: E402

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
    import consent.services.decisions as decisions
    from consent import services
    from consent.services import ItemInput, RequestInput, SampleInput

    decisions.artifact_queue = lambda **kwargs: None  # timed below instead
    org, operator, person = cast()
    phone = person.phone
    ids = []
    today = timezone.localdate()
    for i in range(n):
        request = services.request_create(
            actor=operator,
            organization=org,
            data=RequestInput(
                phone=phone,
                end_user_reference=f"user-{i}",
                end_user_verification_method="mobile",
                end_user_verification_reference=f"sms-check-{i}",
                end_user_verified_at=timezone.now() - timedelta(hours=1),
                end_user_prompted_to_notify=True,
                notice_retention="参考样本在同意结束后 30 天内删除。Samples deleted 30 days after the consent ends.",
                notice_withdrawal="可随时在门户撤回，立即生效。Withdraw at any time in the portal; effective at once.",
                notice_recipients="none",
                items=[
                    ItemInput(
                        "face",
                        ["face_swap", "attribute_editing"],
                        f"电影配音预告片 {i} Film dubbing trailer {i}",
                        "抖音频道 Douyin channel",
                        today + timedelta(days=90),
                        [SampleInput("face.jpg", photo(i)), SampleInput("face2.jpg", photo(i + 100))],
                    )
                ],
            ),
        )
        services.request_open(person=person, code=request.code)
        ids.append(decisions.consent_grant(actor=person, item_id=request.items.get().pk).pk)
    return ids


def main() -> None:
    from weasyprint import HTML

    from consent.records.render import artifact_render
    from consent.records.sign import pdf_sign, signing_material
    from consent.services.artifacts import _load

    load = os.getloadavg()
    ids = make_consents(N)
    signing_material()
    artifact_render(_load(ids[0]), "grant")  # warm-up: fonts, templates

    plain, render, sign, total, sizes = [], [], [], [], []
    for consent_id in ids:
        start = time.perf_counter()
        HTML(string="<p>One line.</p>").write_pdf()
        plain.append(time.perf_counter() - start)

        consent = _load(consent_id)
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
    RESULTS_FILE.parent.mkdir(parents=True, exist_ok=True)
    RESULTS_FILE.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
