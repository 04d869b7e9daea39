"""A private copy of the production stack for fault tests: its own PostgreSQL cluster and Redis server on
free ports in a temporary folder, and gunicorn / Celery worker processes started, killed and restarted at
will. The shared PostgreSQL (5432) and Redis (6379) of the machine are never touched."""

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from glob import glob
from pathlib import Path

import psycopg

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pg_bin(name: str) -> str:
    found = sorted(glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise RuntimeError(f"{name} not found under /usr/lib/postgresql/*/bin (apt-get install postgresql)")
    return found[-1]


def wait_until(predicate, timeout=30.0, interval=0.1, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"{what} not met within {timeout} s")


class Stack:
    def __init__(self):
        self.root = Path(tempfile.mkdtemp(prefix="consent-faults-"))
        os.chmod(self.root, 0o755)  # noqa: S103  the postgres user must reach its data folder inside
        self.pg_port = free_port()
        self.redis_port = free_port()
        self.pgdata = self.root / "pgdata"
        self.var = self.root / "var"
        self.var.mkdir()
        self.redis: subprocess.Popen | None = None
        self.processes: list[subprocess.Popen] = []
        self.as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    # ---- PostgreSQL -----------------------------------------------------------------------------

    def pg_init(self):
        self.pgdata.mkdir()
        if self.as_postgres:
            shutil.chown(self.pgdata, "postgres", "postgres")
        subprocess.run(
            [
                *self.as_postgres,
                pg_bin("initdb"),
                "-D",
                str(self.pgdata),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
            ],
            check=True,
            capture_output=True,
        )
        self.pg_start()

    def pg_start(self):
        options = f"-p {self.pg_port} -k {self.pgdata} -c listen_addresses=127.0.0.1 -c fsync=off"
        subprocess.run(
            [*self.as_postgres, pg_bin("pg_ctl"), "-D", str(self.pgdata), "-o", options, "-l",
             str(self.pgdata / "log"), "-w", "start"],
            check=True,
            capture_output=True,
        )  # fmt: skip

    def pg_stop(self):
        subprocess.run(
            [*self.as_postgres, pg_bin("pg_ctl"), "-D", str(self.pgdata), "-m", "fast", "-w", "stop"],
            check=True,
            capture_output=True,
        )

    def url(self, db: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.pg_port}/{db}"

    def sql(self, db: str, query: str, params=()):
        with psycopg.connect(self.url(db).replace("postgres://", "postgresql://"), autocommit=True) as conn:
            cursor = conn.execute(query, params)
            return cursor.fetchall() if cursor.description else None

    def create_db(self, name: str, template: str | None = None):
        clause = f" TEMPLATE {template}" if template else ""
        self.sql("postgres", f'CREATE DATABASE "{name}"{clause}')

    # ---- Redis ----------------------------------------------------------------------------------

    def redis_start(self):
        self.redis = subprocess.Popen(
            ["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
             "no", "--dir", str(self.root)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_until(lambda: self._redis_ping(), what="redis up")

    def _redis_ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.redis_port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def redis_stop(self):
        if self.redis is not None:
            self.redis.kill()
            self.redis.wait()
            self.redis = None

    # ---- the application ------------------------------------------------------------------------

    def env(self, db: str, **extra) -> dict:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("DATABASE_", "CELERY_", "DJANGO_", "PYTEST", "MEDIA_", "VAR_"))
        }
        env.update(
            {
                "DJANGO_DEBUG": "1",
                "PYTHONPATH": str(REPO),
                "DATABASE_URL": self.url(db),
                "CELERY_BROKER_URL": f"redis://127.0.0.1:{self.redis_port}/0",
                "CELERY_TASK_ALWAYS_EAGER": "0",
                "CELERY_TASK_DEFAULT_QUEUE": f"q-{db}",
                "VAR_DIR": str(self.var),
                "MEDIA_ROOT": str(self.root / f"media-{db}"),
                "SITE_URL": "http://127.0.0.1:8000",
            }
        )
        # Fault tests make many requests for few phones from one organisation: lift the anti-abuse caps.
        env.update(
            {
                "NOTIFY_LIMIT_PER_ORGANIZATION_PHONE_DAY": "100000",
                "NOTIFY_LIMIT_PER_PHONE_DAY": "100000",
                "NOTIFY_LIMIT_PER_ORGANIZATION_HOUR": "100000",
                "API_RATE_LIMIT": "100000/min",
                "WEBHOOK_TIMEOUT": "3",
            }
        )
        env.update({key: str(value) for key, value in extra.items()})
        return env

    def manage(self, db: str, *args, check=True, env=None, timeout=300) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=REPO,
            env=env or self.env(db),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"manage.py {' '.join(args)} exited {result.returncode}:\n{result.stderr[-3000:]}")
        return result

    def django(self, db: str, code: str, env=None, timeout=300):
        """Run `code` in a fresh Django process on `db`; it prints one JSON line (the last line is read)."""
        script = "import django, json\ndjango.setup()\n" + code
        result = subprocess.run(
            [sys.executable, "-c", script],
            cwd=REPO,
            env={**(env or self.env(db)), "DJANGO_SETTINGS_MODULE": "config.settings"},
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if result.returncode != 0:
            raise AssertionError(f"snippet failed ({result.returncode}):\n{result.stderr[-4000:]}")
        lines = [line for line in result.stdout.splitlines() if line.strip()]
        return json.loads(lines[-1]) if lines else None

    def spawn(self, args: list[str], db: str, log: str, env=None) -> subprocess.Popen:
        out = (self.root / log).open("ab")
        process = subprocess.Popen(
            args, cwd=REPO, env=env or self.env(db), stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.processes.append(process)
        return process

    def worker(self, db: str, name: str = "w1", concurrency: int = 1, env=None) -> subprocess.Popen:
        process = self.spawn(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", f"q-{db}", "-n", f"{name}@%h",
             f"--concurrency={concurrency}", "--without-gossip", "--without-mingle", "--without-heartbeat",
             "-l", "info"],
            db,
            f"worker-{db}-{name}.log",
            env=env,
        )  # fmt: skip
        wait_until(lambda: "ready." in self.log(f"worker-{db}-{name}.log") or process.poll() is not None, 90,
                   what=f"worker {name} ready")  # fmt: skip
        assert process.poll() is None, self.log(f"worker-{db}-{name}.log")[-3000:]
        return process

    def web(self, db: str, workers: int = 2, env=None) -> str:
        port = free_port()
        self.spawn(
            [sys.executable, "-m", "gunicorn", "config.wsgi", "-b", f"127.0.0.1:{port}", "-w", str(workers),
             "--timeout", "60", "--graceful-timeout", "5"],
            db,
            f"web-{db}-{port}.log",
            env=env,
        )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: http(base + "/healthz")[0] == 200, 90, what="web up")
        return base

    def log(self, name: str) -> str:
        path = self.root / name
        return path.read_text(errors="replace") if path.exists() else ""

    @staticmethod
    def kill(process: subprocess.Popen, sig=signal.SIGKILL):
        """Kill the process and every child (a Celery worker's pool, gunicorn's workers) at once."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        process.wait(timeout=30)

    def stop_processes(self):
        for process in self.processes:
            if process.poll() is None:
                self.kill(process, signal.SIGKILL)
        self.processes.clear()

    def close(self):
        self.stop_processes()
        self.redis_stop()
        if self.pgdata.exists():
            subprocess.run(
                [*self.as_postgres, pg_bin("pg_ctl"), "-D", str(self.pgdata), "-m", "immediate", "stop"],
                capture_output=True,
                check=False,
            )
        shutil.rmtree(self.root, ignore_errors=True)


def http(url: str, data: bytes | None = None, headers: dict | None = None, method=None, timeout=10):
    """(status, body text) of one request; connection errors are (0, reason)."""
    request = urllib.request.Request(url, data=data, headers=headers or {}, method=method)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except (OSError, urllib.error.URLError) as exc:
        return 0, str(exc)
