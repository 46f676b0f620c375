"""The command line of bench/bench_mlp.py: its options, a run, a worker, or --from-json."""

import argparse
import os

from .harness import run, worker_main
from .report import from_json, report, to_jsonable, write_reports
from .workload import ALL_CONTENDERS, BENCH_DIR, DEFAULT_CONTENDERS

DESCRIPTION = "fastmlp benchmark harness (issue 3)."


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=DESCRIPTION, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--quick", action="store_true", help="tiny sizes, 1 rep (smoke test)")
    p.add_argument("--reps", type=int, default=None, help="repetitions (default 7, --quick 1)")
    p.add_argument(
        "--threads",
        type=int,
        nargs="+",
        default=[1, 2],
        help="thread counts: all rows at the first one, batch-512 training also at the others",
    )
    p.add_argument("--out", default=os.path.join(BENCH_DIR, "RESULTS.md"), help="markdown report path")
    p.add_argument("--json", default=None, help="also dump raw results to this JSON file")
    p.add_argument("--contenders", nargs="+", default=list(DEFAULT_CONTENDERS), choices=ALL_CONTENDERS)
    p.add_argument("--batches", type=int, nargs="+", default=[1, 32, 128, 512, 2048])
    p.add_argument(
        "--batches2",
        type=int,
        nargs="+",
        default=None,
        help="training batches at the extra --threads counts (default: --batches)",
    )
    p.add_argument("--target-time", type=float, default=None, help="seconds per timing (default 1.0, --quick 0.05)")
    p.add_argument(
        "--batch1-samples",
        type=int,
        default=None,
        help="subset size cap for batch-1 training (default 3000, --quick 100)",
    )
    p.add_argument("--infer-batch", type=int, default=None, help="throughput batch (default 10000, --quick 2000)")
    p.add_argument("--sgemm-n", type=int, default=None, help="sgemm size N (NxN @ NxN; default 2048, --quick 512)")
    p.add_argument(
        "--gap",
        type=float,
        default=None,
        help="pause between timings, s, lets other workers' BLAS/OpenMP threads stop spinning "
        "(default 0.2, --quick 0.05)",
    )
    p.add_argument("--no-digits", action="store_true", help="skip the digits time-to-accuracy task")
    p.add_argument("--digits-lr", type=float, default=0.2)
    p.add_argument("--digits-batch", type=int, default=16)
    p.add_argument("--digits-max-epochs", type=int, default=None, help="default 200, --quick 3")
    p.add_argument("--digits-target", type=float, default=0.97)
    p.add_argument("--digits-seeds", type=int, default=None, help="seeds 0..k-1 (default: --reps)")
    p.add_argument(
        "--from-json",
        default=None,
        metavar="PATH",
        help="run nothing: write the report again from a run's --json file (with that run's options)",
    )
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    p.add_argument("--worker-threads", type=int, default=1, help=argparse.SUPPRESS)
    p.add_argument("--worker-n", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--worker-pin", type=int, default=-1, help=argparse.SUPPRESS)
    p.add_argument(
        "--pin-core",
        type=int,
        default=0,
        help="1-thread workers run pinned to this core (sched_setaffinity); -1: not pinned",
    )
    a = p.parse_args(argv)
    q = a.quick

    def dflt(name, full, quick):
        if getattr(a, name) is None:
            setattr(a, name, quick if q else full)

    dflt("reps", 7, 1)
    dflt("target_time", 1.0, 0.05)
    dflt("batch1_samples", 3000, 100)
    dflt("infer_batch", 10000, 2000)
    dflt("sgemm_n", 2048, 512)
    dflt("gap", 0.2, 0.05)
    dflt("digits_max_epochs", 200, 3)
    dflt("digits_seeds", a.reps, 1)
    if a.batches2 is None:
        a.batches2 = list(a.batches)
    a.n_total = 4096 if q else 60000
    a.sgemm_reps = 2 if q else 5
    a.min_latency_calls = 50 if q else 1000
    return a


def main(argv=None):
    a = parse_args(argv)
    if a.worker:
        worker_main(a.worker, a.worker_threads, a.worker_n, a.worker_pin)
        return 0
    if a.from_json:
        return rerender(a)
    res = run(a)
    write_reports("\n".join(report(res, a)), a.out, a.json, to_jsonable(res))
    return 0


def rerender(a):
    """The report of a finished run from its --json file, e.g. after a change to the report, with the
    run's own options."""
    res = from_json(a.from_json)
    text = "\n".join(report(res, parse_args(res["argv"])))
    text = text.replace(
        "- Command: ",
        "- Report written again from `%s` (`--from-json`); the run's command: " % os.path.basename(a.from_json),
        1,
    )
    write_reports(text, a.out, None, None)
    return 0
