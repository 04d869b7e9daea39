"""Transparency log throughput on a PostgreSQL cluster of its own (initdb in a temporary folder, a free
port; the shared server on 5432 is never touched), fsync and synchronous_commit on as in production.

    .venv/bin/python bench/audit_log.py appends   # concurrent writers; baseline: a head-row lock
    .venv/bin/python bench/audit_log.py tree      # 10^6 events: integration and audit_verify; baseline:
                                                  # the per-event verifier this log had before

`appends`: BENCH_WRITERS processes (a list, default 8 then 16) each append BENCH_EVENTS events (default 2500)
through `audit.record` in transactions of 1 and of 10 events, alternating with the same writers appending
through one locked head row (the old hash chain), BENCH_ROUNDS rounds each (default 3). Reported per phase:
events/s (wall clock), CPU per event of the writers and of the server (from /proc: the postmaster's own
and its reaped children's times), and events per WAL flush (pg_stat_wal):
with one event per transaction every commit waits for a flush, so the disk's flush rate (see
pg_test_fsync) times the commits sharing a flush bounds the rate. BENCH_COMMIT_DELAY (µs) and
BENCH_COMMIT_SIBLINGS set PostgreSQL's group commit; synchronous_commit stays on.

`tree`: COPY BENCH_TREE_EVENTS (default 10^6) varied events into the log (as bench/seed.py seeds), integrate
them in batches with a signed checkpoint every BENCH_CHECKPOINT_EVERY events, then run `log_verify` (what
`manage.py audit_verify` runs), and the old per-event verifier over the first BENCH_BASELINE_VERIFY events.

Results: bench/results/audit_log-appends-cd<commit delay>.txt and bench/results/audit_log-tree.txt.
"""

import glob
import hashlib
import json
import multiprocessing
import os
import random
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUICK = os.environ.get("BENCH_QUICK", "") not in ("", "0")  # as `make bench`: small, for development only
RESULTS_DIR = ROOT / "bench" / "results" / ("quick" if QUICK else "")
WRITER_COUNTS = [int(n) for n in os.environ.get("BENCH_WRITERS", "8" if QUICK else "8,16").split(",")]
EVENTS_PER_WRITER = int(os.environ.get("BENCH_EVENTS", "300" if QUICK else "2500"))
BASELINE_EVENTS_PER_WRITER = int(os.environ.get("BENCH_BASELINE_EVENTS", "100" if QUICK else "250"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "1" if QUICK else "3"))
COMMIT_DELAY = int(os.environ.get("BENCH_COMMIT_DELAY", "0"))
COMMIT_SIBLINGS = int(os.environ.get("BENCH_COMMIT_SIBLINGS", "5"))
TREE_EVENTS = int(os.environ.get("BENCH_TREE_EVENTS", "20000" if QUICK else "1000000"))
CHECKPOINT_EVERY = int(os.environ.get("BENCH_CHECKPOINT_EVERY", "5000" if QUICK else "20000"))
BASELINE_VERIFY = int(os.environ.get("BENCH_BASELINE_VERIFY", "5000" if QUICK else "50000"))
CLOCK_TICK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Cluster:
    """A private PostgreSQL cluster for one run: started, measured, removed."""

    def __init__(self, **settings):
        self.workdir = Path(tempfile.mkdtemp(prefix="audit-log-bench-"))
        os.chmod(self.workdir, 0o755)  # noqa: S103 (the postgres user reaches its data folder through here)
        self.data = self.workdir / "pg"
        self.port = free_port()
        self.bin = Path(sorted(glob.glob("/usr/lib/postgresql/*/bin"))[-1])
        self.settings = {
            "listen_addresses": "127.0.0.1",
            "unix_socket_directories": str(self.data),
            "max_connections": "200",
            "shared_buffers": "512MB",
            "max_wal_size": "4GB",
            **{k: str(v) for k, v in settings.items()},
        }
        self.process = None
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/audit_log_bench"

    def _as_postgres(self, argv: list[str]) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv

    def start(self) -> "Cluster":
        self.data.mkdir()
        if os.geteuid() == 0:
            shutil.chown(self.data, "postgres", "postgres")
        initdb = [str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8"]
        subprocess.run([*self._as_postgres(initdb), "--no-sync", "--locale=C.UTF-8"], check=True, capture_output=True)
        argv = [str(self.bin / "postgres"), "-D", str(self.data), "-p", str(self.port)]
        for name, value in self.settings.items():
            argv += ["-c", f"{name}={value}"]
        log = open(self.workdir / "postgres.log", "wb")  # noqa: SIM115 (lives as long as the server)
        self.process = subprocess.Popen(
            self._as_postgres(argv), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + 60
        while subprocess.run([str(self.bin / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)],
                             capture_output=True).returncode:  # fmt: skip
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError(
                    "the private PostgreSQL did not start: " + (self.workdir / "postgres.log").read_text()
                )
            time.sleep(0.2)
        subprocess.run([str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                        "audit_log_bench"], check=True)  # fmt: skip
        return self

    def postmaster_pid(self) -> int:
        return int((self.data / "postmaster.pid").read_text().split()[0])

    def cpu_seconds(self) -> float:
        """User + system CPU of the whole cluster so far: the postmaster, its live children, its reaped ones."""
        master = self.postmaster_pid()
        total = 0
        for stat in glob.glob("/proc/[0-9]*/stat"):
            try:
                text = Path(stat).read_text()
            except OSError:
                continue
            fields = text[text.rindex(")") + 2 :].split()
            pid, ppid = int(stat.split("/")[2]), int(fields[1])
            if pid == master:
                total += sum(int(v) for v in fields[11:15])  # utime, stime, cutime, cstime
            elif ppid == master:
                total += int(fields[11]) + int(fields[12])
        return total / CLOCK_TICK

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.workdir, ignore_errors=True)


def django_setup(url: str) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DJANGO_DEBUG", "1")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    # DJANGO_DEBUG spares the run production's secrets; its query log is not production's path: off.
    settings.DEBUG = False
    call_command("migrate", verbosity=0)


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.1f} (5 min {five:.1f})"


# ---- appends ------------------------------------------------------------------------------------


def writer(start, count: int, name: str, baseline: bool, per_txn: int, cpu) -> None:
    from django.db import connection, connections, transaction

    import audit

    connections.close_all()  # a forked child must not share the parent's connection
    connection.ensure_connection()
    start.wait()
    began = resource.getrusage(resource.RUSAGE_SELF)
    try:
        write_events(connection, transaction, audit, count, name, baseline, per_txn)
    finally:
        ended = resource.getrusage(resource.RUSAGE_SELF)
        with cpu.get_lock():  # only the appending counts, not the fork, the imports or the connecting
            cpu.value += ended.ru_utime + ended.ru_stime - began.ru_utime - began.ru_stime


def write_events(connection, transaction, audit, count, name, baseline, per_txn) -> None:
    for first in range(0, count, per_txn):
        with transaction.atomic():
            for i in range(first, min(first + per_txn, count)):
                if baseline:
                    append_through_head_row(connection, name, i)
                else:
                    audit.record(name, "bench.append", None, {"i": i, "writer": name})


def append_through_head_row(connection, name: str, i: int) -> None:
    """What the hash chain did per event: lock the head, hash against it, insert, move the head."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT seq, hash FROM bench_head WHERE id = 1 FOR UPDATE")
        seq, prev = cursor.fetchone()
        digest = hashlib.sha256(f"{prev}{seq + 1}{name}{i}".encode()).hexdigest()
        cursor.execute("INSERT INTO bench_chain (seq, actor, i, prev_hash, hash) VALUES (%s, %s, %s, %s, %s)",
                       [seq + 1, name, i, prev, digest])  # fmt: skip
        cursor.execute("UPDATE bench_head SET seq = %s, hash = %s WHERE id = 1", [seq + 1, digest])


def wal_syncs() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT wal_sync FROM pg_stat_wal")
        return cursor.fetchone()[0]


def backends() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'")
        return cursor.fetchone()[0]


def run_writers(cluster: Cluster, writers: int, count: int, *, baseline: bool, per_txn: int) -> dict:
    from django.db import connections

    connections.close_all()
    context = multiprocessing.get_context("fork")
    start, cpu = context.Event(), context.Value("d", 0.0)
    processes = [
        context.Process(target=writer, args=(start, count, f"writer-{n}", baseline, per_txn, cpu))
        for n in range(writers)
    ]
    for process in processes:
        process.start()
    while backends() < writers + 1:  # every writer connected before the clock starts
        time.sleep(0.1)
    syncs, server = wal_syncs(), cluster.cpu_seconds()
    began = time.perf_counter()
    start.set()
    for process in processes:
        process.join()
        if process.exitcode:
            sys.exit(f"a writer failed (exit {process.exitcode})")
    seconds = time.perf_counter() - began
    while backends() > 1:  # the writers' backends have exited, so their CPU is in the postmaster's cutime
        time.sleep(0.05)
    events = count * writers
    return {
        "events": events,
        "seconds": seconds,
        "rate": events / seconds,
        "client_us": cpu.value / events * 1e6,
        "server_us": (cluster.cpu_seconds() - server) / events * 1e6,
        "per_flush": events / max(1, wal_syncs() - syncs),
    }


def appends() -> dict:
    cluster = Cluster(commit_delay=COMMIT_DELAY, commit_siblings=COMMIT_SIBLINGS).start()
    try:
        django_setup(cluster.url)
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("CREATE TABLE bench_head (id int primary key, seq bigint, hash text)")
            cursor.execute("CREATE TABLE bench_chain (seq bigint primary key, actor text, i int, prev_hash text,"
                           " hash text unique)")  # fmt: skip
            cursor.execute("INSERT INTO bench_head VALUES (1, 0, %s)", ["0" * 64])
            cursor.execute("SELECT version()")
            version = cursor.fetchone()[0].split(" on ")[0]
        lines = [
            "Audit log appends on PostgreSQL (bench/audit_log.py appends)",
            f"host: {os.cpu_count()} CPUs shared with other work, {load()} at the start; {version}, a private "
            f"cluster; fsync on, synchronous_commit on, commit_delay {COMMIT_DELAY} µs, commit_siblings "
            f"{COMMIT_SIBLINGS}; writer processes, each its own connection: {WRITER_COUNTS}",
            "phase | events | s | events/s | writer CPU µs/event | server CPU µs/event | events per WAL flush",
        ]
        best = {}
        for writers in WRITER_COUNTS:
            for round_ in range(1, ROUNDS + 1):
                for per_txn in (1, 10):
                    for baseline in (True, False):
                        count = BASELINE_EVENTS_PER_WRITER if baseline else EVENTS_PER_WRITER
                        r = run_writers(cluster, writers, count, baseline=baseline, per_txn=per_txn)
                        what = "baseline, head-row lock" if baseline else "sequence, no lock (audit.record)"
                        line = (
                            f"{writers:>2} writers, round {round_}, {per_txn:>2} per txn, {what:<32} | "
                            f"{r['events']:>6} | {r['seconds']:6.2f} | {r['rate']:6,.0f} | {r['client_us']:5.0f} | "
                            f"{r['server_us']:5.0f} | {r['per_flush']:5.1f}"
                        )
                        lines.append(line)
                        print(line, flush=True)
                        key = (per_txn, what)
                        best[key] = sorted([*best.get(key, []), r["rate"]])
        lines.append("median events/s over every round and writer count:")
        summary = {"writers": WRITER_COUNTS, "rounds": ROUNDS}
        for (per_txn, what), rates in sorted(best.items()):
            median = rates[len(rates) // 2]
            lines.append(f"  {per_txn:>2} per txn, {what:<32}: {median:6,.0f} (min {rates[0]:,.0f})")
            summary[f"{'baseline' if what.startswith('baseline') else 'log'}_{per_txn}_per_txn"] = round(median)
        lines.append(f"{load()} at the end")
        write(f"audit_log-appends-cd{COMMIT_DELAY}.txt", lines)
        return summary
    finally:
        from django.db import connections

        connections.close_all()
        cluster.stop()


# ---- integration and audit_verify at 10^6 events ------------------------------------------------

ACTIONS = ["consent.grant", "consent.revoke", "request.create", "identity.signin", "token.present", "key.rotate"]


def seed_events(count: int) -> None:
    """COPY `count` varied events (Chinese and ASCII text, nested data, no organisation for some)."""
    from django.db import connection

    from audit.models import AuditEvent

    rnd = random.Random(19)
    start = datetime.now(UTC) - timedelta(minutes=30)
    columns = ["seq", "time", "actor_type", "actor_id", "actor_label", "action", "target_type", "target_id",
               "data", "organization_id"]  # fmt: skip

    def rows():
        for seq in range(1, count + 1):
            moment = start + timedelta(microseconds=seq * 1000 + rnd.randrange(1000) * (seq % 7 != 0))
            person = rnd.randrange(1, 50_000)
            data = {"consent": rnd.randrange(1, 10**6), "ops": ["face_swap", "voice_cloning"][: 1 + seq % 2]}
            if seq % 5 == 0:
                data["reason"] = rnd.choice(["不再使用", "changed my mind", 'quote " and \\ back', ""])
            yield (
                seq, moment.isoformat(), "identity.person", str(person), f"张{person} +86139****{person % 10000:04d}",
                ACTIONS[seq % len(ACTIONS)], "consent.consent", str(rnd.randrange(1, 10**6)),
                json.dumps(data, ensure_ascii=False), None if seq % 11 == 0 else rnd.randrange(1, 300),
            )  # fmt: skip

    table = AuditEvent._meta.db_table
    with connection.cursor() as cursor:
        names = ", ".join(f'"{c}"' for c in columns)
        with cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            for row in rows():
                copy.write_row(row)
        cursor.execute("SELECT setval('audit_event_seq', %s)", [count])
        cursor.execute(f"ANALYZE {table}")


def reference_verify(limit: int) -> int:
    """What audit_verify did per event before it streamed by chunks: build the leaf's canonical JSON through
    a dict, fold it into a Frontier one leaf at a time and compare each stored node as it completes."""
    from django.db import connection

    from audit import merkle
    from audit.canonical import canonical_json_checked
    from audit.models import node_key

    sql = (
        'SELECT l."index", n.hash, e.seq, e.time, e.actor_type, e.actor_id, e.actor_label, e.action, '
        "e.target_type, e.target_id, e.data, e.organization_id FROM audit_auditleaf l "
        'JOIN audit_auditnode n ON n."key" = l."index" JOIN audit_auditevent e ON e.seq = l.seq '
        'WHERE l."index" < %s ORDER BY l."index"'
    )
    frontier, pending, checked = merkle.Frontier(), {}, 0

    def flush():
        with connection.cursor() as cursor:
            cursor.execute('SELECT "key", hash FROM audit_auditnode WHERE "key" = ANY(%s)', [list(pending)])
            stored = dict(cursor.fetchall())
        assert all(bytes(stored[k]) == v for k, v in pending.items())
        pending.clear()

    with connection.chunked_cursor() as cursor:
        cursor.execute(sql, [limit])
        while rows := cursor.fetchmany(5000):
            for _index, stored, seq, moment, at, aid, al, act, tt, tid, data, org in rows:
                data = json.loads(data)  # a raw cursor hands JSON columns back as text
                body = canonical_json_checked({"seq": seq, "time": moment.isoformat(), "actor_type": at,
                    "actor_id": aid, "actor_label": al, "action": act, "target_type": tt, "target_id": tid,
                    "data": data, "organization_id": org})  # fmt: skip
                leaf = merkle.leaf_hash(body)
                assert leaf == bytes(stored)
                for (level, index), value in frontier.append(leaf)[1:]:
                    pending[node_key(level, index)] = value
                    if len(pending) >= 5000:
                        flush()
                checked += 1
    flush()
    return checked


def timed(function, cluster: Cluster):
    began, cpu, server = time.perf_counter(), time.process_time(), cluster.cpu_seconds()
    value = function()
    return value, time.perf_counter() - began, time.process_time() - cpu, cluster.cpu_seconds() - server


def tree() -> dict:
    cluster = Cluster().start()
    try:
        django_setup(cluster.url)
        from audit import merkle
        from audit.models import AuditTree
        from audit.services import checkpoint_create, tree_integrate, tree_root
        from audit.verify import log_verify

        lines = [
            "Audit log integration and audit_verify on PostgreSQL (bench/audit_log.py tree)",
            f"host: {os.cpu_count()} CPUs shared with other work, {load()} at the start; a private cluster",
        ]
        began = time.perf_counter()
        seed_events(TREE_EVENTS)
        lines.append(f"seeded {TREE_EVENTS} events with COPY in {time.perf_counter() - began:.1f} s")
        print(lines[-1], flush=True)

        def integrate():
            done = 0
            while step := tree_integrate(limit=CHECKPOINT_EVERY):
                done += step
                checkpoint_create()
            return done

        summary = {"events": TREE_EVENTS}
        done, wall, cpu, server = timed(integrate, cluster)
        assert done == TREE_EVENTS and AuditTree.objects.get().size == TREE_EVENTS
        summary["integrate_per_s"] = round(done / wall)
        lines.append(
            f"integration (leaves, every subtree hash, a signed checkpoint every {CHECKPOINT_EVERY} events): "
            f"{done} events in {wall:.1f} s = {done / wall:,.0f} events/s; CPU {cpu / done * 1e6:.1f} µs/event "
            f"in Python, {server / done * 1e6:.1f} µs/event in PostgreSQL"
        )
        print(lines[-1], flush=True)
        result, wall, cpu, server = timed(log_verify, cluster)
        assert result.ok and result.checked == TREE_EVENTS, result
        summary["verify_per_s"], summary["verify_per_cpu_s"] = round(result.checked / wall), round(result.checked / cpu)
        lines.append(
            f"audit_verify (log_verify: every leaf, every stored subtree hash, every checkpoint's signatures and "
            f"root): {result.checked} events in {wall:.1f} s = {result.checked / wall:,.0f} events/s; CPU "
            f"{cpu / result.checked * 1e6:.1f} µs/event in Python (= {result.checked / cpu:,.0f} events per "
            f"CPU-second), {server / result.checked * 1e6:.1f} µs/event in PostgreSQL"
        )
        print(lines[-1], flush=True)
        assert merkle.Frontier  # the reference below uses the same tree code
        limit = min(BASELINE_VERIFY, TREE_EVENTS)
        checked, wall, cpu, server = timed(lambda: reference_verify(limit), cluster)
        lines.append(
            f"baseline, the per-event loop audit_verify ran before (canonical JSON through a dict, a Frontier fed one "
            f"leaf at a time, stored hashes compared 5000 at a time; first {checked} events, no checkpoints): "
            f"{checked / wall:,.0f} events/s; CPU {cpu / checked * 1e6:.1f} µs/event in Python, "
            f"{server / checked * 1e6:.1f} µs/event in PostgreSQL"
        )
        print(lines[-1], flush=True)
        summary["baseline_verify_per_s"] = round(checked / wall)
        assert tree_root(TREE_EVENTS)
        lines.append(f"{load()} at the end")
        write("audit_log-tree.txt", lines)
        return summary
    finally:
        from django.db import connections

        connections.close_all()
        cluster.stop()


def write(name: str, lines: list[str]) -> None:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / name).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    if mode not in ("appends", "tree"):
        sys.exit("usage: bench/audit_log.py appends|tree")
    summary = appends() if mode == "appends" else tree()
    print(json.dumps(summary))  # the last line, for `make bench` (bench/run.py)
