"""Where samples and signed records live: STORAGES built from the environment, checked in a fresh process."""

import json

import pytest

from tests.config.test_health_and_security import manage, python_with_settings

S3_ENV = {
    "STORAGE_BACKEND": "s3",
    "AWS_STORAGE_BUCKET_NAME": "consent-media",
    "AWS_S3_ENDPOINT_URL": "https://s3.example.internal:9000",
    "AWS_S3_REGION_NAME": "cn-north-1",
    "AWS_S3_ACCESS_KEY_ID": "AKIDEXAMPLE",
    "AWS_S3_SECRET_ACCESS_KEY": "example-secret",
    "AWS_S3_CUSTOM_DOMAIN": "media.example.com",
    "AWS_LOCATION": "consent",
}
PRINT_DEFAULT_STORAGE = (
    "import json; from django.conf import settings; from django.core.files.storage import storages;"
    "s = storages['default']; o = settings.STORAGES['default'];"
    "print(json.dumps({'backend': o['BACKEND'], 'class': type(s).__name__,"
    " 'attrs': {k: getattr(s, k, None) for k in ('bucket_name', 'endpoint_url', 'region_name', 'access_key',"
    " 'secret_key', 'custom_domain', 'location', 'file_overwrite', 'default_acl', 'querystring_auth')}}))"
)


def default_storage_in_a_fresh_process(**env) -> dict:
    """The default storage that settings build from `env` in a new interpreter.

    Settings and storages need no app registry, so the child skips `django.setup()` (which would import
    every app, PDF and signing libraries included): a second instead of three.
    """
    blank = {name: "" for name in S3_ENV}
    result = python_with_settings(PRINT_DEFAULT_STORAGE, **{**blank, **env})
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_files_go_to_the_filesystem_under_media_root_by_default():
    chosen = default_storage_in_a_fresh_process()
    assert chosen["backend"] == "django.core.files.storage.FileSystemStorage"
    assert chosen["class"] == "FileSystemStorage"


def test_storage_backend_s3_selects_s3storage_with_the_options_from_the_environment():
    pytest.importorskip("storages")
    chosen = default_storage_in_a_fresh_process(**S3_ENV)
    assert chosen["backend"] == "storages.backends.s3.S3Storage"
    assert chosen["class"] == "S3Storage"
    assert chosen["attrs"] == {
        "bucket_name": "consent-media",
        "endpoint_url": "https://s3.example.internal:9000",
        "region_name": "cn-north-1",
        "access_key": "AKIDEXAMPLE",
        "secret_key": "example-secret",
        "custom_domain": "media.example.com",
        "location": "consent",
        "file_overwrite": False,  # see tests/consent/test_storage.py
        "default_acl": None,  # private objects: biometric samples are never public-read
        "querystring_auth": True,
    }


def test_a_bucket_name_alone_selects_s3():
    pytest.importorskip("storages")
    chosen = default_storage_in_a_fresh_process(AWS_STORAGE_BUCKET_NAME="consent-media")
    assert chosen["class"] == "S3Storage"
    assert chosen["attrs"]["bucket_name"] == "consent-media"


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"STORAGE_BACKEND": "s3"}, "AWS_STORAGE_BUCKET_NAME"),
        ({"STORAGE_BACKEND": "ftp"}, "STORAGE_BACKEND"),
    ],
    ids=["s3_without_bucket", "unknown_backend"],
)
def test_start_up_fails_naming_what_is_wrong_with_the_storage_settings(env, named):
    blank = {name: "" for name in S3_ENV}
    result = manage("check", **{**blank, **env})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert named in result.stderr
