"""What every benchmark here shares: Django on a throwaway in-memory SQLite database, media in a temporary
folder, the demo cast (an organisation, an operator, a verified person) made through the real services."""

import os
import secrets
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
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test.utils import setup_test_environment

    setup_test_environment()
    connection.creation.create_test_db(verbosity=0)
    settings.MEDIA_ROOT = tempfile.mkdtemp(prefix="bench-media-")
    settings.ALLOWED_HOSTS = ["*"]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def cast():
    """(organization, operator, verified person) through the services, as in production."""
    from identity.models import Membership
    from identity.services import (
        membership_set,
        operator_create,
        organization_create,
        person_for_phone,
        person_identity_verify,
    )

    organization = organization_create(
        actor="bench",
        name="示例科技 Example Tech",
        uscc="91350100M000100Y43",
        privacy_contact_name="Privacy Officer",
        privacy_contact_email="privacy@example.test",
        privacy_contact_phone="+8613800138000",
        address="福州 Fuzhou",
    )
    operator = operator_create(actor="bench", username="bench-operator", password=secrets.token_urlsafe(16))
    membership_set(actor="bench", user=operator, organization=organization, role=Membership.Role.OPERATOR)
    person = person_identity_verify(
        person=person_for_phone(phone="+8613912345678"), legal_name="张三", id_number="11010519491231002X"
    )
    return organization, operator, person
