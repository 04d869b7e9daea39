"""`make bench`: the service on a production-like stack, each scenario beside its baseline in the same run.

    make bench                    # the full run (under 15 minutes): bench/results/<date>.json and .md
    BENCH_QUICK=1 make bench      # a short run for development (small data, 3 s runs): bench/results/quick/

Everything runs on 127.0.0.1 and everything started here is stopped here (bench/stack.py). Load comes
from wrk (32 connections, 2 threads); in-process measures come from bench/inproc.py; data from
bench/seed.py (consent.builders, then PostgreSQL COPY to 10^6 consents and 10^7 presentations).
"""

import base64
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from stack import ROOT, VENV_BIN, Stack

QUICK = os.environ.get("BENCH_QUICK", "") not in ("", "0")
RESULTS = ROOT / "bench" / "results" / ("quick" if QUICK else "")
CONFIG = {
    "runs": 1 if QUICK else 3,
    "seconds": 3 if QUICK else 20,
    "warmup_seconds": 1 if QUICK else 3,
    "connections": 32,
    "threads": 2,
    "real_consents": 10 if QUICK else 50,
    "small_consents": 1000,
    "large_consents": 20_000 if QUICK else 1_000_000,
    "large_presentations": 200_000 if QUICK else 10_000_000,
    "verifier_n": 2_000 if QUICK else 20_000,
    "pdf_n": 3 if QUICK else 20,
}
TARGETS = {
    "verify_vs_bare": 0.5,
    "verify_p99_ms": 25,
    "large_vs_small": 0.9,
    "verifier_vs_raw": 1.5,
    "audit_events_per_s": 50_000,
    "appends_per_s": 5_000,
    "grant_p50_ms": 100,
    "grant_pdf_p50_ms": 1000,
    "render_sign_p50_ms": 400,
}
UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def log(message: str) -> None:
    print(f"[bench {datetime.now(UTC):%H:%M:%S}] {message}", flush=True)


def child(stack: Stack | None, script: str, *args: str) -> dict:
    """Run a bench script (against the stack, or on its own without one); its last line of output is JSON."""
    output = subprocess.run(
        [str(VENV_BIN / "python"), str(ROOT / "bench" / script), *args],
        cwd=ROOT,
        env=stack.env() if stack else {**os.environ, "BENCH_QUICK": "1" if QUICK else ""},
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(output.stdout.strip().splitlines()[-1])


def parse_wrk(output: str) -> dict:
    def latency(label: str) -> float:
        value, unit = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)\s*$", output, re.M).groups()
        return round(float(value) * UNITS[unit], 2)

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(r"Socket errors: (.*)", output)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "p50_ms": latency("50"),
        "p99_ms": latency("99"),
        "non_2xx": int(errors.group(1)) if errors else 0,
        "socket_errors": socket_errors.group(1).strip() if socket_errors else "",
    }


def wrk(stack: Stack, path: str, seconds: int, script: Path | None = None) -> dict:
    argv = [
        "wrk",
        f"-t{CONFIG['threads']}",
        f"-c{CONFIG['connections']}",
        f"-d{seconds}s",
        "--latency",
        "--timeout",
        "10s",
    ]
    if script:
        argv += ["-s", str(script)]
    output = subprocess.run(
        [*argv, f"http://127.0.0.1:{stack.web_port}{path}"], check=True, capture_output=True, text=True
    ).stdout
    return parse_wrk(output)


def verify_script(stack: Stack, key: str, tokens: list[str]) -> Path:
    """wrk posts a verify call for a token picked at random among the real ones, as services do."""
    path = stack.workdir / "verify.lua"
    listed = ",\n".join(f'"{token}"' for token in tokens)
    path.write_text(
        f"""
local tokens = {{{listed}}}
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {key}"
request = function()
  local token = tokens[math.random(#tokens)]
  return wrk.format(nil, nil, nil, '{{"token":"' .. token .. '","modality":"face","operation":"face_swap"}}')
end
"""
    )
    return path


def check_verify_answers(stack: Stack, key: str, tokens: list[str]) -> None:
    """Before any load: every token the load presents is active, so wrk times the whole path."""
    import httpx

    for token in tokens:
        answer = httpx.post(
            f"http://127.0.0.1:{stack.web_port}/api/v1/tokens/verify",
            json={"token": token, "modality": "face", "operation": "face_swap"},
            headers={"Authorization": f"Bearer {key}"},
            timeout=120,  # the first call loads the whole app in a fresh worker
        )
        if answer.status_code != 200 or answer.json().get("active") is not True:
            raise RuntimeError(f"verify answered {answer.status_code} {answer.text[:300]}")


def load_rounds(stack: Stack, scenarios: dict[str, tuple[str, Path | None]]) -> dict[str, list[dict]]:
    """`runs` rounds; in each, every scenario runs once, one after the other (so neighbours' noise is shared)."""
    results = {name: [] for name in scenarios}
    for path, script in scenarios.values():
        wrk(stack, path, CONFIG["warmup_seconds"], script)
    for round_number in range(CONFIG["runs"]):
        for name, (path, script) in scenarios.items():
            result = wrk(stack, path, CONFIG["seconds"], script)
            log(f"round {round_number + 1} {name}: {result}")
            results[name].append(result)
    return results


def summary(runs: list[dict]) -> dict:
    return {
        "rps": round(statistics.median(r["rps"] for r in runs), 1),
        "p50_ms": round(statistics.median(r["p50_ms"] for r in runs), 2),
        "p99_ms": round(statistics.median(r["p99_ms"] for r in runs), 2),
        "non_2xx": sum(r["non_2xx"] for r in runs),
        "runs": runs,
    }


def machine() -> dict:
    cpu = ""
    if Path("/proc/cpuinfo").exists():
        found = re.search(r"model name\s*:\s*(.*)", Path("/proc/cpuinfo").read_text())
        cpu = found.group(1) if found else ""
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "load_before": os.getloadavg()[0],
        "postgresql": subprocess.run(["psql", "--version"], capture_output=True, text=True).stdout.strip(),
        "wrk": "wrk " + (subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split()[1:2] or ["?"])[0],
    }


def run() -> dict:
    started = time.monotonic()
    result = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "quick": QUICK, "config": CONFIG}
    result["machine"] = machine()
    with Stack(keep=bool(os.environ.get("BENCH_KEEP"))) as stack:
        log(f"stack up in {stack.workdir}; seeding {CONFIG['real_consents']} consents through the builders")
        stack.start_worker()
        cast = child(stack, "seed.py", "cast", "--consents", str(CONFIG["real_consents"]))
        result["seed_small"] = child(
            stack, "seed.py", "grow", "--consents", str(CONFIG["small_consents"]), "--presentations", "0"
        )
        log(f"small database: {result['seed_small']}")
        stack.start_web()
        key, tokens = cast["api_key"], cast["tokens"]
        check_verify_answers(stack, key, tokens)
        script = verify_script(stack, key, tokens)
        small = load_rounds(
            stack,
            {"bare": ("/bench/bare", None), "healthz": ("/healthz", None), "verify": ("/api/v1/tokens/verify", script)},
        )
        result["small"] = {name: summary(runs) for name, runs in small.items()}

        log("offline Verifier vs raw Ed25519")
        token = tokens[0]
        payload = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
        result["verifier"] = child(
            stack,
            "inproc.py",
            "verifier",
            "--base-url",
            f"http://127.0.0.1:{stack.web_port}",
            "--token",
            token,
            "--audience",
            str(payload["aud"]),
            "--n",
            str(CONFIG["verifier_n"]),
        )
        log(f"verifier: {result['verifier']}")
        result["render"] = child(stack, "inproc.py", "render", "--n", str(CONFIG["pdf_n"]))
        log(f"render + sign: {result['render']}")
        result["grant"] = child(stack, "inproc.py", "grant", "--n", str(CONFIG["pdf_n"]))
        log(f"grant: {result['grant']}")

        log(f"growing to {CONFIG['large_consents']} consents, {CONFIG['large_presentations']} presentations (COPY)")
        result["seed_large"] = child(
            stack,
            "seed.py",
            "grow",
            "--consents",
            str(CONFIG["large_consents"]),
            "--presentations",
            str(CONFIG["large_presentations"]),
        )
        log(f"large database: {result['seed_large']}")
        check_verify_answers(stack, key, tokens)
        large = load_rounds(stack, {"bare": ("/bench/bare", None), "verify": ("/api/v1/tokens/verify", script)})
        result["large"] = {name: summary(runs) for name, runs in large.items()}
    # The transparency log on PostgreSQL clusters of its own (bench/audit_log.py), after the stack is down.
    log("audit log: concurrent appends beside a head-row lock")
    result["audit_appends"] = child(None, "audit_log.py", "appends")
    log(f"audit appends: {result['audit_appends']}")
    log("audit log: integration and audit_verify beside the per-event verifier")
    result["audit_tree"] = child(None, "audit_log.py", "tree")
    log(f"audit tree: {result['audit_tree']}")
    result["seconds"] = round(time.monotonic() - started)
    result["targets"] = targets(result)
    return result


def targets(r: dict) -> list[dict]:
    small, large, appends, tree = r["small"], r["large"], r["audit_appends"], r["audit_tree"]
    ratio = small["verify"]["rps"] / small["bare"]["rps"]
    large_ratio = (large["verify"]["rps"] / large["bare"]["rps"]) / ratio
    at_least, at_most = (lambda value, wanted: value >= wanted), (lambda value, wanted: value <= wanted)
    rows = [
        ("verify throughput / bare view", round(ratio, 3), "verify_vs_bare", at_least),
        ("verify p99 at 32 connections (ms)", small["verify"]["p99_ms"], "verify_p99_ms", at_most),
        ("verify on 10⁶/10⁷ rows vs 10³ (each / its bare)", round(large_ratio, 3), "large_vs_small", at_least),
        ("offline Verifier / raw Ed25519", r["verifier"]["ratio"], "verifier_vs_raw", at_most),
        ("appends/s, concurrent writers, 10 events per txn", appends["log_10_per_txn"], "appends_per_s", at_least),
        ("appends/s, concurrent writers, 1 event per txn", appends["log_1_per_txn"], "appends_per_s", at_least),
        (f"log integration events/s ({tree['events']:,} events)", tree["integrate_per_s"], "appends_per_s", at_least),
        (f"audit_verify events/s ({tree['events']:,} events)", tree["verify_per_s"], "audit_events_per_s", at_least),
        ("grant p50 (ms)", r["grant"]["grant_p50_ms"], "grant_p50_ms", at_most),
        ("grant → signed PDF p50 (ms)", r["grant"]["pdf_p50_ms"], "grant_pdf_p50_ms", at_most),
        ("render + sign p50 (ms)", r["render"]["render_sign_p50_ms"], "render_sign_p50_ms", at_most),
    ]
    return [
        {
            "measure": measure,
            "value": value,
            "target": f"{'≥' if test is at_least else '≤'} {TARGETS[name]}",
            "met": bool(test(value, TARGETS[name])),
        }
        for measure, value, name, test in rows
    ]


def markdown(r: dict) -> str:
    m = r["machine"]
    names = {"bare": "bare JsonResponse", "healthz": "GET /healthz", "verify": "POST /api/v1/tokens/verify"}
    lines = [
        f"# make bench — {r['date']}{' (BENCH_QUICK: not a measurement to quote)' if r['quick'] else ''}",
        "",
        f"{m['cpus']} CPUs ({m['cpu']}), {m['platform']}, Python {m['python']}, {m['postgresql']}, {m['wrk']};"
        f" load average {m['load_before']:.1f} before the run; {r['seconds']} s in all.",
        f"gunicorn 2 sync workers, production settings, PostgreSQL and Redis of the run's own; wrk"
        f" {r['config']['connections']} connections, {r['config']['runs']} × {r['config']['seconds']} s (medians).",
        "",
        "| scenario | req/s | p50 ms | p99 ms | ratio to bare |",
        "|---|---|---|---|---|",
    ]
    for db, label in (
        ("small", f"{r['config']['small_consents']} consents"),
        ("large", f"{r['seed_large']['consents']} consents, {r['seed_large']['presentations']} presentations"),
    ):
        bare = r[db]["bare"]["rps"]
        for name, row in r[db].items():
            path = names[name]
            errors = f" ({row['non_2xx']} non-2xx)" if row["non_2xx"] else ""
            cells = [
                f"{path}, {label}{errors}",
                f"{row['rps']:.0f}",
                row["p50_ms"],
                row["p99_ms"],
                f"{row['rps'] / bare:.3f}",
            ]
            lines.append("| " + " | ".join(map(str, cells)) + " |")
    v, g, p, a, t = r["verifier"], r["grant"], r["render"], r["audit_appends"], r["audit_tree"]
    rows = [
        ("in process", "measure", "baseline"),
        ("---", "---", "---"),
        (
            "offline `Verifier.verify` per token",
            f"{v['verifier_us']} µs",
            f"raw Ed25519 verify {v['raw_ed25519_us']} µs (× {v['ratio']})",
        ),
        (
            "render + sign one record (p50 / p95)",
            f"{p['render_sign_p50_ms']} / {p['render_sign_p95_ms']} ms (CPU p50 {p.get('render_sign_cpu_p50_ms')} ms)",
            f"one-line PDF {p['one_line_pdf_p50_ms']} ms",
        ),
        (
            "grant (p50 / p95)",
            f"{g['grant_p50_ms']} / {g['grant_p95_ms']} ms (CPU p50 {g.get('grant_cpu_p50_ms')} ms)",
            f"{g.get('grant_sql_statements')} SQL statements",
        ),
        ("grant → signed PDF stored by the worker (p50 / p95)", f"{g['pdf_p50_ms']} / {g['pdf_p95_ms']} ms", ""),
        (
            f"appends through `audit.record`, {' and '.join(map(str, a['writers']))} writers (median events/s)",
            f"{a['log_10_per_txn']} (10 per transaction), {a['log_1_per_txn']} (1 per transaction)",
            f"one locked head row: {a['baseline_10_per_txn']}, {a['baseline_1_per_txn']}",
        ),
        (f"integration into the tree, {t['events']} events", f"{t['integrate_per_s']} events/s", ""),
        (
            f"`audit_verify` over {t['events']} events",
            f"{t['verify_per_s']} events/s ({t['verify_per_cpu_s']} per CPU-second)",
            f"the per-event loop before: {t['baseline_verify_per_s']} events/s",
        ),
    ]
    lines += ["", *("| " + " | ".join(row) + " |" for row in rows), ""]
    lines += ["| target | measured | wanted | met |", "|---|---|---|---|"]
    for t in r["targets"]:
        lines.append(f"| {t['measure']} | {t['value']} | {t['target']} | {'yes' if t['met'] else '**no**'} |")
    return "\n".join(lines) + "\n"


def main():
    missing = [tool for tool in ("wrk", "redis-server") if shutil.which(tool) is None]
    if missing:
        sys.exit(f"bench: {', '.join(missing)} not found; `make bench` installs them (Debian packages).")
    result = run()
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = RESULTS / datetime.now(UTC).strftime("%Y-%m-%d")
    stem.with_suffix(".json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    stem.with_suffix(".md").write_text(markdown(result))
    print(markdown(result))
    log(f"written {stem}.json and {stem}.md")


if __name__ == "__main__":
    main()
