"""The production-like stack `make bench` runs on, all on 127.0.0.1 and all stopped afterwards.

A PostgreSQL cluster and a Redis of its own (on free ports, in a temporary folder: the shared ones on
5432/6379 stay untouched), gunicorn serving `config.wsgi` with production settings (DJANGO_DEBUG=0 and
every production secret generated for the run), a real Celery worker, and a local fake of the signed
HTTP gateways (SMS, real-name) so that production's HTTP backends have somewhere to talk to.
"""

import base64
import glob
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate, *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not come up within {timeout} s")


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


class FakeGateway:
    """Answers every signed gateway call (SMS: a message id; real-name: a match) at once."""

    def __init__(self):
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                body = json.dumps({"message_id": secrets.token_hex(8), "request_id": "bench", "result": "match"})
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body.encode())

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()


def _pem_material() -> dict[str, str]:
    """Production secrets for one run: never written anywhere but this process's children's environment."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519
    from cryptography.x509.oid import NameOID

    def pem(key) -> str:
        return key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()

    signer = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bench records signer")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(signer.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, True, False, False, False, False, False, False, False), critical=True)
        .sign(signer, hashes.SHA256())
    )
    return {
        "PLATFORM_SIGNING_KEY": pem(ed25519.Ed25519PrivateKey.generate()),
        "ARTIFACT_SIGNING_CERT": cert.public_bytes(serialization.Encoding.PEM).decode(),
        "ARTIFACT_SIGNING_KEY": pem(signer),
    }


class Stack:
    """Start with `start()`, always `stop()` (a `with` block does both); children die with the harness."""

    def __init__(self, *, gunicorn_workers: int = 2, keep: bool = False):
        self.workdir = Path(tempfile.mkdtemp(prefix="consent-bench-"))
        os.chmod(self.workdir, 0o755)  # noqa: S103 (the postgres user reaches its data folder through here)
        self.gunicorn_workers = gunicorn_workers
        self.keep = keep
        self.processes: list[subprocess.Popen] = []
        self.pg_data = self.workdir / "pg"
        self.pg_port = free_port()
        self.redis_port = free_port()
        self.web_port = free_port()
        self.gateway: FakeGateway | None = None
        self.pg_bin = Path(sorted(glob.glob("/usr/lib/postgresql/*/bin"))[-1])
        self.web: subprocess.Popen | None = None

    # -- environment -----------------------------------------------------------------------------

    def env(self, **extra) -> dict[str, str]:
        """Production settings (DJANGO_DEBUG=0) pointing at this stack, for every child process."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_", "CELERY_"))}
        env.update(self._env)
        env.update(extra)
        return env

    def _build_env(self) -> None:
        pii = base64.b64encode(secrets.token_bytes(32)).decode()
        self.database_url = f"postgres://postgres@127.0.0.1:{self.pg_port}/consent"
        self._env = {
            "PYTHONPATH": f"{ROOT}:{ROOT / 'clients' / 'python'}",
            "PYTHONDONTWRITEBYTECODE": "1",
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DJANGO_DEBUG": "0",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            # TLS ends at the load balancer in production; here wrk speaks plain HTTP on loopback.
            "DJANGO_SECURE_SSL_REDIRECT": "0",
            "SITE_URL": f"http://127.0.0.1:{self.web_port}",
            "DATABASE_URL": self.database_url,
            "DATABASE_CONN_MAX_AGE": os.environ.get("BENCH_CONN_MAX_AGE", "60"),
            "CELERY_BROKER_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "CACHE_URL": f"rediscache://127.0.0.1:{self.redis_port}/1",
            "VAR_DIR": str(self.workdir / "var"),
            "MEDIA_ROOT": str(self.workdir / "media"),
            "STORAGE_BACKEND": "filesystem",
            "PII_ENCRYPTION_KEYS": f"bench:{pii}",
            "PII_INDEX_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
            "SMS_BACKEND": "identity.sms.HttpSmsBackend",
            "SMS_HTTP_URL": self.gateway.url,
            "SMS_HTTP_APP_ID": "bench",
            "SMS_HTTP_SECRET": secrets.token_urlsafe(16),
            "REALNAME_BACKEND": "identity.realname.HttpRealNameVerifier",
            "REALNAME_HTTP_URL": self.gateway.url,
            "REALNAME_HTTP_APP_ID": "bench",
            "REALNAME_HTTP_SECRET": secrets.token_urlsafe(16),
            "EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",
            # One organisation asks one phone many times here; the anti-abuse limits would stop the seed.
            "API_RATE_LIMIT": "100000000/min",
            "NOTIFY_LIMIT_PER_ORGANIZATION_PHONE_DAY": "100000000",
            "NOTIFY_LIMIT_PER_PHONE_DAY": "100000000",
            "NOTIFY_LIMIT_PER_ORGANIZATION_HOUR": "100000000",
            "BENCH_BARE_VIEW": "1",
            "LOG_LEVEL": "WARNING",
            **_pem_material(),
        }

    # -- processes -------------------------------------------------------------------------------

    def _as_postgres(self, argv: list[str]) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv

    def _spawn(self, argv: list[str], log: str, **kwargs) -> subprocess.Popen:
        out = open(self.workdir / log, "wb")  # noqa: SIM115 (closed with the process at stop())
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, **kwargs)
        self.processes.append(process)
        return process

    def start(self) -> "Stack":
        self.gateway = FakeGateway()
        self._build_env()
        self.pg_data.mkdir()
        if os.geteuid() == 0:
            shutil.chown(self.pg_data, "postgres", "postgres")
        initdb = [str(self.pg_bin / "initdb"), "-D", str(self.pg_data), "-U", "postgres", "-A", "trust", "-E", "UTF8"]
        subprocess.run([*self._as_postgres(initdb), "--no-sync", "--locale=C.UTF-8"], check=True, capture_output=True)
        self._spawn(
            self._as_postgres(
                [
                    str(self.pg_bin / "postgres"),
                    "-D",
                    str(self.pg_data),
                    "-p",
                    str(self.pg_port),
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    f"unix_socket_directories={self.pg_data}",
                    "-c",
                    "max_connections=100",
                    "-c",
                    "shared_buffers=512MB",
                    "-c",
                    "max_wal_size=4GB",
                ]
            ),
            "postgres.log",
        )
        wait_until(lambda: port_open(self.pg_port), timeout=60, what="PostgreSQL")
        time.sleep(0.5)
        subprocess.run(
            [str(self.pg_bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.pg_port), "-U", "postgres", "consent"],
            check=True,
        )
        self._spawn(
            [
                "redis-server",
                "--port",
                str(self.redis_port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            "redis.log",
        )
        wait_until(lambda: port_open(self.redis_port), timeout=30, what="Redis")
        self.manage("migrate", "--noinput")
        self.manage("collectstatic", "--noinput", "-v", "0")
        return self

    def manage(self, *args: str) -> None:
        subprocess.run([str(VENV_BIN / "python"), "manage.py", *args], cwd=ROOT, env=self.env(), check=True)

    def psql(self, sql: str) -> str:
        return subprocess.run(
            [str(self.pg_bin / "psql"), self.database_url, "-tAc", sql], check=True, capture_output=True, text=True
        ).stdout.strip()

    def start_web(self, *, server: str = "gunicorn") -> None:
        """gunicorn (sync workers) on the web port; granian when asked for and installed."""
        if server == "granian":
            argv = [
                str(VENV_BIN / "granian"),
                "--interface",
                "wsgi",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.web_port),
                "--workers",
                str(self.gunicorn_workers),
                "--no-ws",
                "config.wsgi:application",
            ]
        else:
            argv = [
                str(VENV_BIN / "gunicorn"),
                "config.wsgi",
                "--workers",
                str(self.gunicorn_workers),
                "--bind",
                f"127.0.0.1:{self.web_port}",
                "--backlog",
                "2048",
                "--no-control-socket",
            ]
        self.web = self._spawn(argv, f"{server}.log", cwd=ROOT, env=self.env())
        wait_until(lambda: self.web.poll() is None and port_open(self.web_port), timeout=60, what=server)

    def stop_web(self) -> None:
        if self.web is not None:
            self._stop(self.web)
            self.processes.remove(self.web)
            self.web = None
            wait_until(lambda: not port_open(self.web_port), timeout=30, what="web server shutdown")

    def start_worker(self) -> None:
        argv = [
            str(VENV_BIN / "celery"),
            "-A",
            "config",
            "worker",
            "--concurrency",
            "1",
            "--without-gossip",
            "--without-mingle",
            "-l",
            "warning",
        ]
        self._spawn(argv, "worker.log", cwd=ROOT, env=self.env())

    @staticmethod
    def _stop(process: subprocess.Popen) -> None:
        if process.poll() is not None:
            return
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def stop(self) -> None:
        for process in reversed(self.processes):
            self._stop(process)
        self.processes.clear()
        if self.gateway:
            self.gateway.stop()
        if self.keep:
            print(f"bench: logs and data kept in {self.workdir}")
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def log_tail(self, name: str, chars: int = 3000) -> str:
        path = self.workdir / name
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""

    def __enter__(self) -> "Stack":
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc) -> None:
        self.stop()
