"""How long `make test`'s pytest run takes, against a baseline commit in the same run.

The baseline is exported from git (`--baseline`, default `main`) into a temporary folder that shares this
checkout's virtualenv, .env and compiled catalogue; each runs the pytest command its own Makefile's `test`
target ran then (read from that Makefile, with its bytecode setting), pairs alternating so that both see the
same load. Measured per run: wall time, the CPU seconds (user + sys) of pytest and every process it started
(xdist workers, subprocess tests), and the load average before it. The database is whatever DATABASE_URL
names (SQLite by default); the candidate's bytecode cache is warmed by one untimed collection first.

    .venv/bin/python bench/suite.py                         # writes bench/results/suite.txt
    .venv/bin/python bench/suite.py --pairs 3 --baseline HEAD~2
    .venv/bin/python bench/suite.py --pairs 1 -- tests/config   # a slice, to check the harness itself
"""

import argparse
import os
import platform
import re
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
SUMMARY = re.compile(r"\d+ (passed|failed|errors?|skipped|deselected)\b.* in [\d.]+s")


def make_test_pytest(tree: Path) -> tuple[list[str], dict[str, str]]:
    """The pytest arguments and bytecode environment of the `test` target in `tree`'s Makefile."""
    output = subprocess.run(
        ["make", "--no-print-directory", "-n", "test"],
        cwd=tree,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    lines = [line for line in output.splitlines() if "bin/pytest" in line]
    if not lines:
        raise SystemExit(f"no pytest command in {tree}/Makefile's test target")
    argv = shlex.split(lines[-1])[1:]
    makefile = (tree / "Makefile").read_text()
    env = {"PYTHONDONTWRITEBYTECODE": "1" if re.search(r"PYTHONDONTWRITEBYTECODE\s*:?=\s*1", makefile) else ""}
    if "PYTHONPYCACHEPREFIX" in makefile:
        env["PYTHONPYCACHEPREFIX"] = str(tree / "var" / "pycache")
    return argv, env


def baseline_tree(ref: str, into: Path) -> Path:
    """`ref` exported from git, with this checkout's virtualenv, .env and compiled catalogue beside it."""
    archive = subprocess.run(["git", "archive", ref], cwd=ROOT, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    (into / ".venv").symlink_to((ROOT / ".venv").resolve())
    (into / "var").mkdir(exist_ok=True)
    for name in (".env", "locale/zh_Hans/LC_MESSAGES/django.mo"):
        if (ROOT / name).exists():
            (into / name).write_bytes((ROOT / name).read_bytes())
    return into


def timed_run(tree: Path, argv: list[str], env: dict[str, str], extra: list[str]) -> dict:
    """One pytest run in `tree`: wall seconds, CPU seconds of its whole process tree, its summary line."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load = os.getloadavg()[0]
    start = time.monotonic()
    result = subprocess.run(
        [str(tree / ".venv" / "bin" / "pytest"), *argv, "-p", "no:cacheprovider", "-q", *extra],
        cwd=tree,
        env={**os.environ, "PYTHONPATH": str(tree), **env},
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    summary = next(
        (line.strip("= ") for line in reversed(result.stdout.splitlines()) if SUMMARY.search(line)), "no summary"
    )
    return {"wall": wall, "cpu": cpu, "load": load, "summary": summary, "code": result.returncode}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default="main", help="git ref to compare with (default: main)")
    parser.add_argument("--pairs", type=int, default=2, help="baseline/candidate pairs, alternating (default 2)")
    parser.add_argument("--out", type=Path, default=RESULTS / "suite.txt")
    parser.add_argument("extra", nargs="*", help="more pytest arguments for both, e.g. a folder (after --)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="suite-baseline-") as folder:
        trees = {"baseline": baseline_tree(args.baseline, Path(folder)), "candidate": ROOT}
        commands = {name: make_test_pytest(tree) for name, tree in trees.items()}
        argv, env = commands["candidate"]
        subprocess.run(  # warm the candidate's bytecode cache, as a second `make test` finds it
            [str(ROOT / ".venv" / "bin" / "pytest"), *argv, "-p", "no:xdist", "--collect-only", "-q", *args.extra],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT), **env},
            capture_output=True,
            check=False,
        )
        runs: dict[str, list[dict]] = {"baseline": [], "candidate": []}
        for pair in range(args.pairs):
            order = ["baseline", "candidate"] if pair % 2 == 0 else ["candidate", "baseline"]
            for name in order:
                run = timed_run(trees[name], *commands[name], args.extra)
                runs[name].append(run)
                print(
                    f"{name:9} wall {run['wall']:7.1f} s  cpu {run['cpu']:7.1f} s  load {run['load']:5.2f}  "
                    f"{run['summary']}",
                    flush=True,
                )

    db = os.environ.get("DATABASE_URL", "").split(":", 1)[0] or "sqlite"
    lines = [
        f"make test's pytest run, {args.pairs} alternating pairs, database {db} (bench/suite.py)",
        f"when: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; python {platform.python_version()}; "
        f"{platform.machine()}, {os.cpu_count()} cpu; baseline {args.baseline}"
        + (f"; only {' '.join(args.extra)}" if args.extra else ""),
    ]
    for name, results in runs.items():
        for n, run in enumerate(results, 1):
            lines.append(
                f"{name:9} run {n}  wall {run['wall']:7.1f} s  cpu (user+sys, all processes) {run['cpu']:7.1f} s  "
                f"load before {run['load']:5.2f}  exit {run['code']}  {run['summary']}"
            )
    for name, results in runs.items():
        lines.append(
            f"{name:9} best wall {min(r['wall'] for r in results):7.1f} s  "
            f"best cpu {min(r['cpu'] for r in results):7.1f} s"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    sys.exit(0 if all(r["code"] == 0 for results in runs.values() for r in results) else 1)


if __name__ == "__main__":
    main()
