#!/usr/bin/env python3
"""int8 inference (model.quantize("int8"), issue 27) against fastmlp's float32 and onnxruntime's
dynamic int8 quantization (``quantize_dynamic``, QInt8 weights), in the same process and run.

    taskset -c 0 python bench/bench_int8.py [--reps 7] [--accuracy] [--out bench/RESULTS_INT8.md]

The bench net 784-256-128-10 (ReLU, softmax), float32. Rows:
* batch 10,000 inference, samples/s (one forward pass over 10,000 rows per timing);
* one-sample latency, microseconds (the mean of many calls of one row per timing).
Contenders alternate within each repetition (the first one rotates); each figure is the median
over the repetitions, with the min-max range. One thread everywhere (fastmlp.set_num_threads(1),
onnxruntime intra_op_num_threads=1); pin the process to one core with taskset for the figures.
With --accuracy: int8 top-1 agreement with float32 and accuracy on sklearn's digits and on a
generated 784-feature, 10-class data set (the bench net trained for a few epochs).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time

import numpy as np

import fastmlp as fm

SIZES = (784, 256, 128, 10)


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def bench_net(seed: int = 0) -> fm.Sequential:
    d, h1, h2, k = SIZES
    return fm.Sequential([fm.Dense(d, h1, "relu"), fm.Dense(h1, h2, "relu"), fm.Dense(h2, k, "softmax")], seed=seed)


def ort_sessions(model, tmp: str):
    """onnxruntime sessions: our float32 export and quantize_dynamic's QInt8 version of it."""
    import onnxruntime as ort
    from onnxruntime.quantization import QuantType, quantize_dynamic

    import fastmlp.onnx as fonnx

    f32 = os.path.join(tmp, "f32.onnx")
    q8 = os.path.join(tmp, "q8.onnx")
    fonnx.export(model, f32)
    quantize_dynamic(f32, q8, weight_type=QuantType.QInt8)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return {
        name: ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
        for name, path in (("onnxruntime float32", f32), ("onnxruntime int8 (quantize_dynamic)", q8))
    }


def contenders(model, tmp: str) -> dict:
    """name -> f(X) giving the output probabilities."""
    q = model.copy()
    q.quantize("int8")
    out = {"fastmlp float32": model.forward, "fastmlp int8": q.forward}
    try:
        for name, sess in ort_sessions(model, tmp).items():
            out[name] = lambda X, s=sess: s.run(None, {"input": X})[0]
    except ImportError as e:
        print(f"onnxruntime left out: {e}", file=sys.stderr)
    return out


def time_call(f, X, min_time: float) -> float:
    """Seconds per call of f(X): calls repeated until min_time has passed."""
    f(X)
    n, start = 0, time.perf_counter()
    while True:
        f(X)
        n += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_time:
            return elapsed / n


def run(reps: int, min_time: float) -> list:
    fm.set_num_threads(1)
    rng = np.random.default_rng(0)
    model = bench_net()
    X_big = rng.random((10_000, SIZES[0]), dtype=np.float32)
    X_one = X_big[:1].copy()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        fs = contenders(model, tmp)
        names = list(fs)
        ref = fs["fastmlp float32"](X_big).argmax(axis=1)
        agree = {n: float(np.mean(fs[n](X_big).argmax(axis=1) == ref)) for n in names}
        for label, X, per in (("batch 10,000 (samples/s)", X_big, "thr"), ("one sample (us)", X_one, "lat")):
            samples = {n: [] for n in names}
            for r in range(reps):
                order = names[r % len(names) :] + names[: r % len(names)]
                for n in order:
                    t = time_call(fs[n], X, min_time)
                    samples[n].append(len(X) / t if per == "thr" else t * 1e6)
            rows.append((label, per, samples))
    return rows, names, agree


def fmt(values: list, per: str) -> str:
    med = statistics.median(values)
    if per == "thr":
        return f"{med / 1e3:,.1f}k ({min(values) / 1e3:,.1f}-{max(values) / 1e3:,.1f}k)"
    return f"{med:,.2f} ({min(values):,.2f}-{max(values):,.2f})"


def speed_report(rows, names, agree, reps: int) -> str:
    info = fm.build_info()
    lines = [
        f"CPU: {cpu_name()}; affinity {sorted(os.sched_getaffinity(0))}; fastmlp {fm.__version__}, "
        f"level {info['level']}, float32 GEMM kernel {info['gemm']}, int8 kernel {info['int8']}; "
        f"one thread; {reps} repetitions, median (min-max).",
        "",
        "| | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for label, per, samples in rows:
        lines.append(f"| {label} | " + " | ".join(fmt(samples[n], per) for n in names) + " |")
    thr = {n: statistics.median(s) for label, per, s2 in rows if per == "thr" for n, s in s2.items()}
    per_rep = {n: s for label, per, s2 in rows if per == "thr" for n, s in s2.items()}  # alternated within a rep
    lat = {n: statistics.median(s) for label, per, s2 in rows if per == "lat" for n, s in s2.items()}
    lines.append("")
    lines.append(
        "top-1 agreement with fastmlp float32 (batch 10,000, random inputs): "
        + ", ".join(f"{n} {agree[n]:.4f}" for n in names)
    )
    ort_q = "onnxruntime int8 (quantize_dynamic)"
    if ort_q in thr:
        ratios = [a / b for a, b in zip(per_rep["fastmlp int8"], per_rep[ort_q])]
        lines.append(
            f"fastmlp int8 / onnxruntime int8 at batch 10,000: {thr['fastmlp int8'] / thr[ort_q]:.2f}x "
            f"(per repetition: median {statistics.median(ratios):.2f}x, {min(ratios):.2f}-{max(ratios):.2f}x); "
            f"one sample: {lat[ort_q] / lat['fastmlp int8']:.2f}x"
        )
    lines.append(
        f"fastmlp int8 / fastmlp float32 at batch 10,000: {thr['fastmlp int8'] / thr['fastmlp float32']:.2f}x; "
        f"one sample: {lat['fastmlp float32'] / lat['fastmlp int8']:.2f}x"
    )
    return "\n".join(lines)


def generated_set():
    """The generated data set of the --accuracy figures (tests/test_int8.py checks them): 6,000 rows,
    784 features (100 informative, 100 redundant), 10 classes; the first 4,000 rows train."""
    from sklearn.datasets import make_classification

    X, y = make_classification(
        n_samples=6000,
        n_features=784,
        n_informative=100,
        n_redundant=100,
        n_classes=10,
        n_clusters_per_class=1,
        class_sep=2.0,
        random_state=0,
    )
    return X.astype(np.float32), y


def accuracy_report() -> str:
    from sklearn.datasets import load_digits

    lines = ["| data set | float32 accuracy | int8 accuracy | top-1 agreement |", "|---|---|---|---|"]
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    order = np.random.default_rng(0).permutation(len(X))
    tr, te = order[:1400], order[1400:]
    digits = fm.Sequential([fm.Dense(64, 64, "relu"), fm.Dense(64, 32, "relu"), fm.Dense(32, 10, "softmax")], seed=0)
    digits.fit(X[tr], y[tr], epochs=30, batch_size=32)
    Xg, yg = generated_set()
    net = bench_net(seed=1)
    net.fit(Xg[:4000], yg[:4000], epochs=5, batch_size=64)
    for name, model, Xt, yt in (
        ("digits (397 test rows), 64-64-32-10", digits, X[te], y[te]),
        ("generated (2,000 test rows), 784-256-128-10", net, Xg[4000:], yg[4000:]),
    ):
        q = model.copy()
        q.quantize("int8")
        pf, pq = model.predict(Xt), q.predict(Xt)
        lines.append(f"| {name} | {np.mean(pf == yt):.4f} | {np.mean(pq == yt):.4f} | {np.mean(pf == pq):.4f} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--reps", type=int, default=7)
    p.add_argument("--min-time", type=float, default=0.5, help="seconds per timing")
    p.add_argument("--accuracy", action="store_true", help="also the accuracy figures")
    p.add_argument("--out", help="append the report to this file")
    args = p.parse_args(argv)
    text = speed_report(*run(args.reps, args.min_time), args.reps)
    if args.accuracy:
        text += "\n\n" + accuracy_report()
    print(text)
    if args.out:
        with open(args.out, "a") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
