"""Shared fixtures: named personas and the real-stack machinery (PostgreSQL + a real Celery worker)."""

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.db import connection

REPO = Path(__file__).resolve().parent.parent
REAL_STACK = os.environ.get("DATABASE_URL", "").startswith("postgres") and bool(os.environ.get("CELERY_BROKER_URL"))
SKIP_REASON = "needs the real stack: set DATABASE_URL (PostgreSQL) and CELERY_BROKER_URL (Redis); .ci/run does both"


def pytest_collection_modifyitems(config, items):
    if REAL_STACK:
        return
    skip = pytest.mark.skip(reason=SKIP_REASON)
    for item in items:
        if "realstack" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _media_and_eager(settings, tmp_path, request):
    """Tests run tasks in-process unless they ask for the real worker; files go to a temporary folder."""
    from config.celery import app

    settings.MEDIA_ROOT = tmp_path / "media"
    eager = "celery_worker" not in request.fixturenames
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = eager
    settings.CELERY_TASK_ALWAYS_EAGER = eager
    yield
    app.conf.task_always_eager = previous


@pytest.fixture(autouse=True)
def _on_commit_runs_when_the_app_commits(request, monkeypatch):
    """In tests wrapped in a transaction, run on_commit callbacks when the code under test commits.

    pytest-django wraps each `db` test in a transaction that never commits, so `transaction.on_commit`
    would never fire. Here the callbacks fire when the application's outermost atomic block closes
    successfully (callbacks from rolled-back blocks are discarded by Django), as in production.
    Tests on `transactional_db` commit for real and need none of this.

    Why not pytest-django's `django_capture_on_commit_callbacks(execute=True)` (Django's
    `TestCase.captureOnCommitCallbacks`): it runs the callbacks when its `with` block ends, not when the
    application commits. As an autouse fixture that is the end of the test, after every assertion; to be
    faithful, each service call and each request in every test and fixture would need its own `with`
    block: the SMS that carries the sign-in code (read back at once by `portal_sign_in`), the request
    notice, the webhook, the queued PDF record are all on_commit side effects. Without this fixture
    120 of the 640 tests outside e2e/ fail or error (counted when this was written). The price is four Django internals,
    all checked by every run of the suite: `transaction.Atomic.__exit__`, `connection.atomic_blocks`
    (to tell the app's outermost block from the test's own), `connection.run_on_commit` as
    `(savepoint ids, callback, robust)` triples and `connection.needs_rollback`. If Django changes one,
    nearly every test fails at once and loudly (no SMS code to read), so a silent drift is not a risk.
    """
    marker = request.node.get_closest_marker("django_db")
    uses_db = marker is not None or "db" in request.fixturenames
    if not uses_db or "transactional_db" in request.fixturenames or (marker and marker.kwargs.get("transaction")):
        yield
        return
    from django.db import connections, transaction

    request.getfixturevalue("db")
    baseline = len(connections["default"].atomic_blocks)
    original_exit = transaction.Atomic.__exit__

    def exit_and_run(self, exc_type, exc_value, traceback):
        result = original_exit(self, exc_type, exc_value, traceback)
        conn = connections[self.using or "default"]
        if len(conn.atomic_blocks) == baseline and conn.run_on_commit and not conn.needs_rollback:
            callbacks, conn.run_on_commit = conn.run_on_commit, []
            for _savepoints, func, _robust in callbacks:  # nothing here registers robust callbacks yet
                func()
        return result

    monkeypatch.setattr(transaction.Atomic, "__exit__", exit_and_run)
    yield


@pytest.fixture(autouse=True)
def queued_pdfs(request, monkeypatch) -> list[tuple[int, str]]:
    """The PDF records queued by grants and withdrawals, as (consent id, kind), instead of rendering them.

    A record takes about half a second to render and sign, and most grants in the suite are about
    something else. Tests about the records themselves are marked `pdf` and render for real (the list
    stays empty for them); every other test can still assert that the right record was queued.
    """
    queued: list[tuple[int, str]] = []
    if "pdf" not in request.keywords:
        from consent.records.tasks import artifact_render_task

        monkeypatch.setattr(artifact_render_task, "delay", lambda consent_id, kind: queued.append((consent_id, kind)))
    return queued


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings, request):
    """Argon2 costs ~0.1 s a hash; fixtures hash many passwords. Tests marked `argon2` keep the real setting."""
    if "argon2" not in request.keywords:
        settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Limits and lockouts count in the cache; a test must not inherit another test's counters."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _english_pages(settings):
    """Assertions read English; pages default to Chinese for real users (see test_i18n)."""
    from django.utils import translation

    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


def subprocess_env(**extra) -> dict:
    """Environment for a child process that must use the same (test) database as this process."""
    env = dict(os.environ)
    db = connection.settings_dict
    if connection.vendor == "postgresql":
        env["DATABASE_URL"] = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    else:
        env["DATABASE_URL"] = f"sqlite:///{db['NAME']}"
    env.update({"DJANGO_DEBUG": "1", "PYTHONPATH": str(REPO), **extra})
    return env


@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup, django_db_blocker, tmp_path_factory):
    """A real `celery worker` on the test database, on a queue of its own, for the whole session."""
    from config.celery import app

    queue = f"test-{uuid.uuid4().hex[:8]}"
    app.conf.task_default_queue = queue
    log = tmp_path_factory.mktemp("worker") / "worker.log"
    with django_db_blocker.unblock():
        env = subprocess_env(CELERY_TASK_DEFAULT_QUEUE=queue, CELERY_TASK_ALWAYS_EAGER="0")
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "-Q",
                queue,
                "--concurrency=2",
                "--without-gossip",
                "--without-mingle",
                "-l",
                "info",
            ],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while not app.control.ping(timeout=1, destination=None):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"celery worker did not start:\n{log.read_text()[-3000:]}")
    yield process
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture
def celery_worker(celery_worker_process, transactional_db):
    """Use in tests that need tasks to run in the real worker (data must be committed: transactional_db)."""
    return celery_worker_process


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.1):
    """Poll until the real worker has done its part (there is no way to be told, so we look)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


# ---- personas ---------------------------------------------------------------------------------


@pytest.fixture
def organization(db):
    from consent.builders import build_organization

    return build_organization(actor="test")


@pytest.fixture
def other_organization(db):
    from consent.builders import build_organization

    return build_organization(
        actor="test",
        name="Other Co",
        uscc="91110000600037341L",
        privacy_contact_name="Other Officer",
        privacy_contact_email="privacy@other.test",
        privacy_contact_phone="+8613900139000",
        address="Beijing",
    )


OPERATOR_PASSWORD = "correct horse battery staple 42"


def _operator(username, organization):
    from consent.builders import build_operator

    return build_operator(actor="test", organization=organization, username=username, password=OPERATOR_PASSWORD)


@pytest.fixture
def operator(organization):
    return _operator("olivia", organization)


@pytest.fixture
def other_operator(other_organization):
    return _operator("oscar", other_organization)


def totp_now(device) -> str:
    from django_otp.oath import TOTP

    return f"{TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift).token():06d}"


def enrol_totp(user):
    from identity.services import totp_enrolment_confirm, totp_enrolment_start

    device = totp_enrolment_start(user=user)
    totp_enrolment_confirm(user=user, device_id=device.pk, token=totp_now(device))
    device.refresh_from_db()
    return device


def office_login(client, user):
    """Sign an operator in through the real forms: password, then TOTP."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.filter(user=user, confirmed=True).first() or enrol_totp(user)
    response = client.post("/office/login/", {"username": user.username, "password": OPERATOR_PASSWORD})
    assert response.status_code == 302, response.content
    # A TOTP code is accepted once; move the device's memory back so a second login in one step works.
    device.refresh_from_db()
    device.last_t = -1
    device.save(update_fields=["last_t"])
    response = client.post("/office/otp/", {"token": totp_now(device)})
    assert response.status_code == 302, response.content
    return client


@pytest.fixture
def operator_client(client, operator):
    return office_login(client, operator)


@pytest.fixture
def other_operator_client(client_factory, other_operator):
    return office_login(client_factory(), other_operator)


@pytest.fixture
def client_factory():
    from django.test import Client

    return Client


# Names tests use for webhook receivers. Tests never ask real DNS: a name outside this table (and not an
# address literal or localhost, which resolve offline) is "not found".
FAKE_DNS = {
    "hooks.example.com": ["93.184.215.14"],
    "internal.example.com": ["10.0.0.5"],
    "hooks.other.example": ["93.184.215.15"],
}


@pytest.fixture(autouse=True)
def fake_dns(monkeypatch):
    """The DNS edge of webhook delivery (consent.netguard._resolve): a table tests may extend."""
    import ipaddress
    import socket

    from consent import netguard

    table = dict(FAKE_DNS)
    real = netguard._resolve

    def resolve(host, port):
        if host in table:
            return list(table[host])
        try:
            ipaddress.ip_address(host)
        except ValueError:
            if host != "localhost" and not host.endswith(".localhost"):
                raise socket.gaierror(socket.EAI_NONAME, "not in the test DNS table") from None
        return real(host, port)

    monkeypatch.setattr(netguard, "_resolve", resolve)
    return table


def migrate(targets):
    """Move the test database to `targets` (app, migration) pairs; returns the historical apps there."""
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.fixture
def latest_schema_afterwards():
    """For migration tests: later tests expect every migration applied, so leave the database that way."""
    from django.db.migrations.executor import MigrationExecutor

    yield
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.fixture
def staff_client(client, operator):
    """Platform staff (superuser) signed in through the office sign-in, as the admin site requires."""
    operator.is_staff = operator.is_superuser = True
    operator.save()
    return office_login(client, operator)


def retry_countdowns(monkeypatch, task) -> list:
    """Run an eager task's retries for real and collect each retry's countdown; any sleep fails the test."""
    import time

    # Eager tasks propagate errors by default, which would stop at the first retry instead of running it.
    monkeypatch.setitem(task.app.conf, "task_eager_propagates", False)
    monkeypatch.setattr(time, "sleep", lambda seconds: pytest.fail(f"time.sleep({seconds}) called"))
    seen = []
    original = task.retry

    def spy(*args, **kwargs):
        seen.append(kwargs.get("countdown"))
        return original(*args, **kwargs)

    monkeypatch.setattr(task, "retry", spy)
    return seen
