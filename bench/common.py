"""What every benchmark here shares: Django on a throwaway in-memory SQLite database, media in a temporary
folder, the demo cast (an organisation, an operator, a verified person) made through the real services."""

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"


def django_setup() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DJANGO_DEBUG", "1")
    os.environ["DATABASE_URL"] = "sqlite://:memory:"
    os.environ["API_RATE_LIMIT"] = "1000000/min"
    # One person is asked many times by one organisation here; the anti-spam limits would stop at the 4th.
    os.environ["NOTIFY_LIMIT_PER_ORGANIZATION_PHONE_DAY"] = "1000000"
    os.environ["NOTIFY_LIMIT_PER_PHONE_DAY"] = "1000000"
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test.utils import setup_test_environment

    setup_test_environment()
    connection.creation.create_test_db(verbosity=0)
    settings.MEDIA_ROOT = tempfile.mkdtemp(prefix="bench-media-")
    settings.ALLOWED_HOSTS = ["*"]


def report(path: Path, lines: list[str]) -> None:
    """Write the result file (kept in git, so a change in speed shows in review) and print it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def cast():
    """(organization, operator, verified person) through the services, as in production (consent.builders)."""
    from consent.builders import build_operator, build_organization, build_verified_person

    organization = build_organization(actor="bench", address="福州 Fuzhou")
    operator = build_operator(actor="bench", organization=organization, username="bench-operator")
    return organization, operator, build_verified_person(phone="+8613912345678")


def without_pdf_records() -> None:
    """Grants queue a PDF record after commit (rendered inline: tasks run eagerly); bench/artifacts.py times it."""
    from consent.records.tasks import artifact_render_task

    artifact_render_task.delay = lambda consent_id, kind: None
