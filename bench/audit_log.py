"""Transparency log throughput on PostgreSQL: appends per second from concurrent writers, integration and
`audit_verify` per second. Baseline in the same run: the same writers appending through one locked head row,
as the hash chain did.

    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/audit_log_bench .venv/bin/python bench/audit_log.py

The database named there is dropped and created at the start, dropped at the end: give it a name of its own.
Results: bench/results/audit_log-<events per transaction>-per-txn.txt (BENCH_EVENTS_PER_TXN, default 1).
"""

import hashlib
import multiprocessing
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "bench" / "results"
WRITERS = int(os.environ.get("BENCH_WRITERS", "8"))
EVENTS_PER_WRITER = int(os.environ.get("BENCH_EVENTS", "4000"))
BASELINE_EVENTS_PER_WRITER = int(os.environ.get("BENCH_BASELINE_EVENTS", "1000"))
# A state change records one to three events; a burst (an import, a sweep) many. Each commit waits for the
# WAL to reach the disk, so with one event per transaction the disk's fsync rate is the ceiling for both.
EVENTS_PER_TXN = int(os.environ.get("BENCH_EVENTS_PER_TXN", "1"))


def setup() -> str:
    url = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/audit_log_bench")
    if not url.startswith("postgres"):
        sys.exit("this benchmark measures PostgreSQL: set BENCH_DATABASE_URL to a postgres:// URL")
    sys.path.insert(0, str(ROOT))
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DJANGO_DEBUG", "1")
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # a fresh log each run
        admin.execute(f'CREATE DATABASE "{name}"')
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return url


def drop(url: str) -> None:
    import psycopg
    from django.db import connections

    connections.close_all()
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def writer(start, count: int, name: str, baseline: bool) -> None:
    from django.db import connection, connections, transaction

    import audit

    connections.close_all()  # a forked child must not share the parent's connection
    start.wait()
    for first in range(0, count, EVENTS_PER_TXN):
        with transaction.atomic():
            for i in range(first, min(first + EVENTS_PER_TXN, count)):
                if baseline:
                    append_through_head_row(connection, name, i)
                else:
                    audit.record(name, "bench.append", None, {"i": i})


def append_through_head_row(connection, name: str, i: int) -> None:
    """What the hash chain did per event: lock the head, hash against it, insert, move the head."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT seq, hash FROM bench_head WHERE id = 1 FOR UPDATE")
        seq, prev = cursor.fetchone()
        digest = hashlib.sha256(f"{prev}{seq + 1}{name}{i}".encode()).hexdigest()
        cursor.execute("INSERT INTO bench_chain (seq, actor, i, prev_hash, hash) VALUES (%s, %s, %s, %s, %s)",
                       [seq + 1, name, i, prev, digest])  # fmt: skip
        cursor.execute("UPDATE bench_head SET seq = %s, hash = %s WHERE id = 1", [seq + 1, digest])


def run_writers(count: int, *, baseline: bool) -> float:
    from django.db import connections

    connections.close_all()
    context = multiprocessing.get_context("fork")
    start = context.Event()
    processes = [context.Process(target=writer, args=(start, count, f"writer-{n}", baseline)) for n in range(WRITERS)]
    for process in processes:
        process.start()
    time.sleep(1.0)  # let every writer connect before the clock starts
    began = time.perf_counter()
    start.set()
    for process in processes:
        process.join()
        if process.exitcode:
            sys.exit(f"a writer failed (exit {process.exitcode})")
    return time.perf_counter() - began


def main() -> None:
    url = setup()
    from django.db import connection

    from audit.models import AuditEvent
    from audit.services import checkpoint_create, tree_integrate
    from audit.verify import log_verify

    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS bench_head (id int primary key, seq bigint, hash text)")
        cursor.execute("CREATE TABLE IF NOT EXISTS bench_chain (seq bigint primary key, actor text, i int,"
                       " prev_hash text, hash text unique)")  # fmt: skip
        cursor.execute("TRUNCATE bench_head, bench_chain")
        cursor.execute("INSERT INTO bench_head VALUES (1, 0, %s)", ["0" * 64])
    try:
        baseline_total = WRITERS * BASELINE_EVENTS_PER_WRITER
        baseline_seconds = run_writers(BASELINE_EVENTS_PER_WRITER, baseline=True)
        total = WRITERS * EVENTS_PER_WRITER
        append_seconds = run_writers(EVENTS_PER_WRITER, baseline=False)
        assert AuditEvent.objects.count() == total
        began = time.perf_counter()
        integrated = tree_integrate()
        checkpoint = checkpoint_create()
        integrate_seconds = time.perf_counter() - began
        assert integrated == total and checkpoint.size == total
        began = time.perf_counter()
        result = log_verify()
        verify_seconds = time.perf_counter() - began
        assert result.ok, result
        lines = [
            "Audit transparency log on PostgreSQL (bench/audit_log.py)",
            f"host: {os.cpu_count()} CPUs shared with other work (load {os.getloadavg()[0]:.1f}); {WRITERS} writers, "
            f"{EVENTS_PER_TXN} event(s) per transaction; synchronous_commit on",
            f"baseline, head-row lock (the hash chain): {baseline_total} events in {baseline_seconds:.2f} s "
            f"= {baseline_total / baseline_seconds:,.0f} appends/s",
            f"sequence, no lock (this log):           {total} events in {append_seconds:.2f} s "
            f"= {total / append_seconds:,.0f} appends/s",
            f"integration (leaves, subtree hashes, one signed checkpoint): {total / integrate_seconds:,.0f} events/s",
            f"audit_verify (recompute the tree, every stored hash, every checkpoint): "
            f"{result.checked / verify_seconds:,.0f} events/s",
        ]
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        (RESULTS_DIR / f"audit_log-{EVENTS_PER_TXN}-per-txn.txt").write_text("\n".join(lines) + "\n")
        print("\n".join(lines))
    finally:
        drop(url)


if __name__ == "__main__":
    main()
