"""Samples and signed records on shared object storage.

Object storage differs from a local disk in one way that matters here: a write under a name that is
taken replaces the object instead of failing, and there is no atomic "create if absent" (two web nodes
can both see a name free). So no two stored files may ever be given the same name.
"""

import pytest
from django.core.files.storage import storages

from consent import services
from consent.models import Artifact, Sample
from tests.consent.conftest import request_input
from tests.consent.test_artifacts import granted, pat  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db


@pytest.fixture
def last_writer_wins(settings, tmp_path):
    """A store that overwrites on a name collision, as S3 does when two nodes race for one name."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "objects"), "allow_overwrite": True},
        },
    }
    return storages["default"]


def test_two_requests_with_the_same_sample_bytes_store_separate_objects(last_writer_wins, organization, operator):
    first = services.request_create(actor=operator, organization=organization, data=request_input())
    second = services.request_create(actor=operator, organization=organization, data=request_input("+8613900000001"))
    samples = Sample.objects.filter(item__request__in=[first, second])
    assert len({s.sha256 for s in samples}) == 2  # the same face and voice in both requests
    names = {s.file.name for s in samples}
    assert len(names) == 4
    assert all(last_writer_wins.exists(name) for name in names)


@pytest.mark.pdf
def test_a_run_that_loses_the_artifact_race_leaves_the_winners_file_alone(
    last_writer_wins,
    granted,  # noqa: F811
    monkeypatch,
):
    import consent.services.artifacts as service

    winner = Artifact.objects.get(consent=granted)
    winner_bytes = last_writer_wins.open(winner.file.name).read()
    Artifact.objects.filter(pk=winner.pk).delete()

    def build_while_another_run_commits(*args, **kwargs):
        Artifact.objects.create(
            consent=granted, kind="grant", file=winner.file.name, sha256=winner.sha256, size=winner.size
        )
        return b"%PDF-1.7 loser"

    monkeypatch.setattr(service, "artifact_build", build_while_another_run_commits)
    assert service.artifact_generate(consent_id=granted.pk, kind="grant").sha256 == winner.sha256
    assert last_writer_wins.exists(winner.file.name)
    assert last_writer_wins.open(winner.file.name).read() == winner_bytes


# ---- a round trip through django-storages' S3Storage, against moto's in-process S3 ----------------------


@pytest.fixture
def s3_bucket(settings, monkeypatch):
    pytest.importorskip("storages")
    moto = pytest.importorskip("moto")
    import boto3

    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    with moto.mock_aws():
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="consent-media")
        settings.STORAGES = {
            **settings.STORAGES,
            "default": {
                "BACKEND": "storages.backends.s3.S3Storage",
                "OPTIONS": {
                    "bucket_name": "consent-media",
                    "region_name": "us-east-1",
                    "default_acl": None,
                    "file_overwrite": False,
                },
            },
        }
        yield boto3.resource("s3", region_name="us-east-1").Bucket("consent-media")


@pytest.mark.pdf
def test_samples_and_records_round_trip_through_s3_and_are_deleted_with_the_account(
    s3_bucket,
    granted,  # noqa: F811
    pat,  # noqa: F811
):
    keys = {o.key for o in s3_bucket.objects.all()}
    sample = Sample.objects.filter(item__consent=granted).first()
    record = Artifact.objects.get(consent=granted)
    assert {sample.file.name, record.file.name} <= keys
    assert sample.file.open("rb").read()[:8] == b"\x89PNG\r\n\x1a\n"  # rendered into the PDF from S3 too
    response = pat.get(f"/me/consents/{granted.pk}/artifacts/grant.pdf")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == s3_bucket.Object(record.file.name).get()["Body"].read()
    assert pat.post("/me/delete/", {"confirm": "on"})["Location"] == "/signin/"
    left = {o.key for o in s3_bucket.objects.all()}
    assert not any(key.startswith("samples/") for key in left)
    assert record.file.name in left  # the signed record is kept as proof
