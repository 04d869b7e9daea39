"""`make bench`'s own arithmetic: reading wrk's report, judging the targets, writing the table.

The harness itself starts PostgreSQL, Redis, gunicorn and a worker and takes minutes even in its quick
mode, so it is not run here; `BENCH_QUICK=1 make bench` is its end-to-end check.
"""

import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"

WRK_OUTPUT = """Running 20s test @ http://127.0.0.1:40000/api/v1/tokens/verify
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    12.10ms    3.20ms  80.00ms   90.00%
  Latency Distribution
     50%  850.00us
     75%   14.00ms
     90%   17.00ms
     99%    1.20s
  30000 requests in 20.00s, 9.00MB read
  Non-2xx or 3xx responses: 12
Requests/sec:   1500.25
Transfer/sec:    460.00KB
"""


@pytest.fixture(scope="module")
def run():
    sys.path.insert(0, str(BENCH))
    try:
        import run as module
    finally:
        sys.path.remove(str(BENCH))
    return module


def test_wrk_report_is_read_in_milliseconds_whatever_its_unit(run):
    assert run.parse_wrk(WRK_OUTPUT) == {
        "rps": 1500.25,
        "p50_ms": 0.85,
        "p99_ms": 1200.0,
        "non_2xx": 12,
        "socket_errors": "",
    }


def result(*, verify_rps: float, verifier_ratio: float) -> dict:
    def load(rps, p99):
        return {"rps": rps, "p50_ms": 5.0, "p99_ms": p99, "non_2xx": 0, "runs": []}

    return {
        "date": "2026-12-02T08:00:00+00:00",
        "quick": False,
        "seconds": 600,
        "config": {"connections": 32, "runs": 3, "seconds": 20, "small_consents": 1000},
        "machine": {"cpus": 2, "cpu": "x", "platform": "p", "python": "3", "postgresql": "15", "wrk": "4", "load_before": 0},  # noqa: E501
        "small": {"bare": load(2000, 20), "healthz": load(1500, 20), "verify": load(verify_rps, 30)},
        "large": {"bare": load(2000, 20), "verify": load(verify_rps * 0.95, 30)},
        "seed_large": {"consents": 1_000_000, "presentations": 10_000_000},
        "verifier": {"raw_ed25519_us": 60.0, "verifier_us": 60.0 * verifier_ratio, "ratio": verifier_ratio},
        "render": {"render_sign_p50_ms": 300, "render_sign_p95_ms": 350, "one_line_pdf_p50_ms": 30},
        "grant": {"grant_p50_ms": 120, "grant_p95_ms": 150, "pdf_p50_ms": 900, "pdf_p95_ms": 1100},
        "audit_appends": {"writers": [8, 16], "rounds": 3, "log_1_per_txn": 4_400, "log_10_per_txn": 7_700,
                          "baseline_1_per_txn": 1_200, "baseline_10_per_txn": 2_800},
        "audit_tree": {"events": 1_000_000, "integrate_per_s": 44_000, "verify_per_s": 81_000,
                       "verify_per_cpu_s": 100_000, "baseline_verify_per_s": 58_000},
    }  # fmt: skip


def test_each_target_is_judged_against_its_own_bound(run):
    judged = {t["measure"]: t["met"] for t in run.targets(result(verify_rps=1200, verifier_ratio=1.2))}
    assert judged == {
        "verify throughput / bare view": True,  # 0.6 ≥ 0.5
        "verify p99 at 32 connections (ms)": False,  # 30 > 25
        "verify on 10⁶/10⁷ rows vs 10³ (each / its bare)": True,  # 0.95 ≥ 0.9
        "offline Verifier / raw Ed25519": True,
        "appends/s, concurrent writers, 10 events per txn": True,  # 7,700 ≥ 5,000
        "appends/s, concurrent writers, 1 event per txn": False,  # 4,400 < 5,000
        "log integration events/s (1,000,000 events)": True,
        "audit_verify events/s (1,000,000 events)": True,
        "grant p50 (ms)": False,  # 120 > 100
        "grant → signed PDF p50 (ms)": True,
        "render + sign p50 (ms)": True,
    }
    slower = {t["measure"]: t["met"] for t in run.targets(result(verify_rps=900, verifier_ratio=1.6))}
    assert slower["verify throughput / bare view"] is False  # 0.45
    assert slower["offline Verifier / raw Ed25519"] is False


def test_the_table_shows_each_scenario_beside_its_baseline_and_each_missed_target(run):
    r = result(verify_rps=1200, verifier_ratio=1.2)
    r["targets"] = run.targets(r)
    table = run.markdown(r)
    assert "| POST /api/v1/tokens/verify, 1000 consents | 1200 | 5.0 | 30 | 0.600 |" in table
    assert "| bare JsonResponse, 1000000 consents, 10000000 presentations | 2000 | 5.0 | 20 | 1.000 |" in table
    assert "| grant p50 (ms) | 120 | ≤ 100 | **no** |" in table
    assert "| offline Verifier / raw Ed25519 | 1.2 | ≤ 1.5 | yes |" in table
    assert "| appends/s, concurrent writers, 1 event per txn | 4400 | ≥ 5000 | **no** |" in table
    assert "| 7700 (10 per transaction), 4400 (1 per transaction) | one locked head row: 2800, 1200 |" in table
