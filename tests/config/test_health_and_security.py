import subprocess
import sys

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from tests.conftest import REPO, subprocess_env


def _p256_certificate() -> tuple[str, str]:
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "consent signing")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return (
        cert.public_bytes(Encoding.PEM).decode(),
        key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode(),
    )


_CERT, _KEY = _p256_certificate()

PRODUCTION = {
    "ARTIFACT_SIGNING_CERT": _CERT,
    "ARTIFACT_SIGNING_KEY": _KEY,
    "DJANGO_DEBUG": "0",
    "DJANGO_SECRET_KEY": "x" * 64 + "production-like-secret-with-enough-entropy-0123456789",
    "DJANGO_ALLOWED_HOSTS": "consent.example.com",
    "DATABASE_URL": "postgres://consent@db.example.com:5432/consent",
    "CELERY_BROKER_URL": "redis://broker.example.com:6379/0",
    "CACHE_URL": "rediscache://broker.example.com:6379/1",
    "PII_ENCRYPTION_KEYS": "k1:" + "A" * 43 + "=",
    "PII_INDEX_KEY": "B" * 43 + "=",
    "SMS_BACKEND": "identity.sms.HttpSmsBackend",
    "SMS_HTTP_URL": "https://sms.example.com/send",
    "SMS_HTTP_APP_ID": "app",
    "SMS_HTTP_SECRET": "sms-secret",
    "REALNAME_BACKEND": "identity.realname.HttpRealNameVerifier",
    "REALNAME_HTTP_URL": "https://verify.example.com/check",
    "REALNAME_HTTP_APP_ID": "app",
    "REALNAME_HTTP_SECRET": "realname-secret",
    "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
    "PLATFORM_SIGNING_KEY": Ed25519PrivateKey.generate()
    .private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    .decode(),
}


def _child_env(env: dict) -> dict:
    base = subprocess_env()
    for name in ("DATABASE_URL", "CELERY_BROKER_URL"):
        base.pop(name, None)
    base.update(env)
    return base


def manage(*args, **env):
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=REPO, env=_child_env(env), capture_output=True, text=True, check=False
    )


def python_with_settings(code: str, **env):
    """Run `code` in a new interpreter whose django.conf.settings are config.settings under `env`."""
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env=_child_env({"DJANGO_SETTINGS_MODULE": "config.settings", **env}),
        capture_output=True,
        text=True,
        check=False,
    )


def test_healthz_answers_while_the_process_runs(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_probes_answer_head_as_get_for_load_balancers_that_ask_so(client, path):
    got, head = client.get(path), client.head(path)
    assert head.status_code == got.status_code and head.content == b""
    assert client.post(path).status_code == 405


@pytest.mark.django_db
def test_readyz_reports_database_and_broker(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"]["database"] == "ok"


@pytest.mark.django_db
def test_readyz_is_503_and_names_the_broker_when_it_is_unreachable(client, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["broker"]
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["broker"].startswith("error:")


@pytest.mark.django_db
def test_readyz_keeps_hosts_and_credentials_of_a_failing_check_out_of_its_public_answer(client, settings, caplog):
    settings.CELERY_BROKER_URL = "redis://bench-user:s3cret-word@127.0.0.1:1/0"
    response = client.get("/readyz")
    assert response.status_code == 503
    text = response.content.decode()
    assert "127.0.0.1" not in text and "s3cret-word" not in text and ":1" not in text
    assert response.json()["checks"]["broker"].startswith("error: ")
    assert "readiness check broker failed" in caplog.text  # the operator still finds the details


@pytest.mark.slow  # every system check on the production settings, in a process of its own
def test_production_settings_pass_check_deploy_without_warnings():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    "missing",
    [
        "DJANGO_SECRET_KEY",
        "PLATFORM_SIGNING_KEY",
        "DATABASE_URL",
        "PII_ENCRYPTION_KEYS",
        "PII_INDEX_KEY",
        "SMS_HTTP_SECRET",
    ],
)
def test_start_up_fails_naming_a_missing_production_secret(missing):
    env = {k: v for k, v in PRODUCTION.items() if k != missing}
    result = manage("check", **env)
    assert result.returncode != 0
    assert missing in result.stderr


@pytest.mark.parametrize(
    "cache", [{}, {"CACHE_URL": "locmemcache://"}, {"CACHE_URL": "dummycache://"}], ids=["unset", "locmem", "dummy"]
)
def test_production_refuses_a_per_process_cache_because_limits_live_there(cache):
    env = {**{k: v for k, v in PRODUCTION.items() if k != "CACHE_URL"}, **cache}
    result = manage("check", **env)
    assert result.returncode != 0
    assert "CACHE_URL" in result.stderr


@pytest.mark.django_db
def test_pages_carry_a_strict_content_security_policy(client):
    response = client.get("/")
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert b"<script>" not in response.content


@pytest.mark.django_db
def test_start_page_lists_the_surfaces(client):
    body = client.get("/").content.decode()
    for link in ("/signin/", "/office/", "/api/v1/docs/", "/verify/"):
        assert f'href="{link}"' in body


@pytest.mark.django_db
def test_dev_outbox_is_hidden_unless_debug(client, settings):
    settings.DEBUG = False
    assert client.get("/dev/outbox/").status_code == 404
    settings.DEBUG = True
    assert client.get("/dev/outbox/").status_code == 200
