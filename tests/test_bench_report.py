"""bench/bench_mlp.py's report: the '% OpenBLAS' cells and --from-json (the report written again from
a run's raw JSON must be the run's own report, apart from the line that says so)."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench" / "bench_mlp.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_mlp", BENCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_pct_of_limit_medians_and_best_against_best(bench):
    limit = {"median": 80.0, "min": 60.0, "max": 100.0}
    train = {"kind": "train", "unit": "samples/s"}
    st = {"median": 60e3, "min": 50e3, "max": 90e3}
    gf = bench.train_flops() / 1e9
    want = "%.0f%% (best %.0f%%)" % (100 * 60e3 * gf / 80.0, 100 * 90e3 * gf / 100.0)
    assert bench.pct_of_limit(train, st, limit) == want
    # Latency: the best timing is the smallest number of microseconds.
    lat = {"kind": "latency", "unit": "us"}
    st = {"median": 20.0, "min": 10.0, "max": 40.0}
    ff = bench.forward_flops() / 1e9
    want = "%.0f%% (best %.0f%%)" % (100 * ff / 20e-6 / 80.0, 100 * ff / 10e-6 / 100.0)
    assert bench.pct_of_limit(lat, st, limit) == want
    assert bench.pct_of_limit(train, None, limit) == "—"
    assert bench.pct_of_limit(train, st, None) == "—"


def test_report_written_again_from_json_is_the_runs_report(tmp_path):
    out, raw, again = tmp_path / "run.md", tmp_path / "run.json", tmp_path / "again.md"
    run = [sys.executable, str(BENCH), "--quick", "--contenders", "fastmlp", "numpy", "--threads", "1"]
    run += ["--no-digits", "--json", str(raw), "--out", str(out)]
    subprocess.run(run, check=True, capture_output=True, timeout=600)
    rerun = [sys.executable, str(BENCH), "--from-json", str(raw), "--out", str(again)]
    subprocess.run(rerun, check=True, capture_output=True, timeout=600)
    a, b = out.read_text().splitlines(), again.read_text().splitlines()
    assert len(a) == len(b)
    differ = [i for i, (x, y) in enumerate(zip(a, b)) if x != y]
    assert len(differ) == 1 and a[differ[0]].startswith("- Command: ")
    assert b[differ[0]].startswith("- Report written again from `run.json` (`--from-json`); the run's command: ")
    assert any("(best " in line for line in a if line.startswith("| train b="))
