#!/usr/bin/env python3
"""The bf16 products' rate against a measured bf16 limit (issue 27: ">= 85% of the bf16 limit").

    taskset -c 0 python bench/bench_bf16_gemm.py [--reps 5] [--quick] [--out FILE]

The three training products of each layer (d_in, d_out) of the bench net 784-256-128-10 at batch m:
    forward  Z  = X W          (m x d_in  @ d_in x d_out)
    backward dX = delta W^T    (m x d_out @ d_out x d_in)
    gradient dW = X^T delta    (d_in x m  @ m x d_out)
each 2 m d_in d_out flops, in GFLOP/s, one thread. Contenders: fastmlp's bf16 kernel in use
(fastmlp._core.gemm_bf16: vdpbf16ps where it runs, fm.build_info()["bf16"]), fastmlp's emulated path
(gemm_bf16(emulated=True); the same contender when the emulated path is the one in use), PyTorch's
torch.matmul on bfloat16 and float32 tensors (when torch imports) and NumPy's float32 matmul (its
BLAS, named through threadpoolctl). No Python entry reaches fastmlp::gemm<float> on its own (the
float32 GEMM runs inside the network's layers only), so fastmlp float32 has no row here.

Timing: per contender and product, a calibration picks n calls so that one timing (n calls between two
clock reads) lasts >= --target-time; within each repetition every contender is timed once, the first
one rotating, so that a slow moment of a shared machine hits them all; median and min-max over the
repetitions of the time per call. Each call goes through Python (binding, output allocation): that
cost, timed on 1 x 1 operands, is reported, and the bf16 kernel's share of the peak is given with and
without it.

Peak: bench/bf16_peak.cpp, built with the system C++ compiler into a temporary folder, times a
register-only loop of independent vdpbf16ps (bf16: 64 flops each, where /proc/cpuinfo has
avx512_bf16) and of vfmadd231ps (zmm where avx512f, ymm where avx2 + fma); run before and after the
rows, best of both. FASTMLP_BF16=avx512_bf16|emulated picks fastmlp's kernel (docs/building.md).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one thread, before NumPy's BLAS starts its pool

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_bf16 import cpu_name  # noqa: E402

LAYERS = ((784, 256), (256, 128), (128, 10))
PRODUCTS = ("Z = X W", "dX = delta W^T", "dW = X^T delta")
PEAK_SRC = HERE / "bf16_peak.cpp"


def product_shape(product: int, m: int, d_in: int, d_out: int) -> tuple[int, int, int]:
    """(M, K, N) of PRODUCTS[product]: op(A) is M x K, op(B) K x N."""
    return ((m, d_in, d_out), (m, d_out, d_in), (d_in, m, d_out))[product]


def contenders(info: dict) -> dict:
    """name -> make(X, W, D), which gives the three products (PRODUCTS' order) as callables."""
    from fastmlp import _core

    g = _core.gemm_bf16  # positional arguments: A, B, trans_a, trans_b, emulated (less binding time)
    native = not info["bf16"].startswith("emulated")

    def fastmlp_bf16(emulated):
        def make(X, W, D):
            return (lambda: g(X, W, False, False, emulated), lambda: g(D, W, False, True, emulated),
                    lambda: g(X, D, True, False, emulated))  # fmt: skip

        return make

    out = {f"fastmlp bf16 [{info['bf16']}]": fastmlp_bf16(False)}
    if native:
        out["fastmlp bf16 emulated"] = fastmlp_bf16(True)
    try:
        import torch

        torch.set_num_threads(1)

        def torch_mm(dtype):
            def make(X, W, D):
                Xt, Wt, Dt = (torch.from_numpy(a).to(dtype) for a in (X, W, D))
                XtT, WtT, mm = Xt.T, Wt.T, torch.matmul  # views: the library's transposed-operand path
                return (lambda: mm(Xt, Wt), lambda: mm(Dt, WtT), lambda: mm(XtT, Dt))

            return make

        out["torch bf16"] = torch_mm(torch.bfloat16)
        out["torch f32"] = torch_mm(torch.float32)
    except ImportError as e:
        print(f"torch left out: {e}", file=sys.stderr)

    def numpy_mm(X, W, D):
        XT, WT, mm = X.T, W.T, np.matmul
        return (lambda: mm(X, W), lambda: mm(D, WT), lambda: mm(XT, D))

    out["numpy f32"] = numpy_mm
    return out


def check_fastmlp(make, X, W, D) -> float:
    """The largest error of the three products against float64 sums of the bf16-rounded operands, as a
    share of float32 accumulation's bound K 2^-23 |A||B| (> 1: a wrong product; reported, and the exit
    status is 1)."""
    from fastmlp import _core

    Xr, Wr, Dr = (_core.bf16_round(a).astype(np.float64) for a in (X, W, D))
    worst = 0.0
    for f, (A, B), K in zip(make(X, W, D), ((Xr, Wr), (Dr, Wr.T), (Xr.T, Dr)), (W.shape[0], W.shape[1], X.shape[0])):
        C, ref = f(), A @ B
        bound = K * 2.0**-23 * (np.abs(A) @ np.abs(B)) + 1e-30
        worst = max(worst, float(np.max(np.abs(C - ref) / bound)))
    return worst


def per_call(f, n: int) -> float:
    t = time.perf_counter()
    for _ in range(n):
        f()
    return (time.perf_counter() - t) / n


def calibrate(f, target: float) -> int:
    """Calls per timing so that one timing lasts >= target (f also warms up here)."""
    f()
    n = 1
    while True:
        t = per_call(f, n) * n
        if t >= target:
            return n
        n = max(n + 1, int(n * 1.2 * target / max(t, 1e-7)))


def time_rows(makers: dict, batches, reps: int, target: float, rng, errors: dict) -> list:
    """The rows of the report; errors[name] gets each fastmlp contender's largest check_fastmlp share."""
    rows = []
    for d_in, d_out in LAYERS:
        for m in batches:
            X, W, D = (rng.standard_normal(s, dtype=np.float32) for s in ((m, d_in), (d_in, d_out), (m, d_out)))
            calls = {name: make(X, W, D) for name, make in makers.items()}
            for name, make in makers.items():
                if name.startswith("fastmlp"):
                    errors[name] = max(errors.get(name, 0.0), check_fastmlp(make, X, W, D))
            for p in range(3):
                fs = {name: c[p] for name, c in calls.items()}
                ns = {name: calibrate(f, target) for name, f in fs.items()}
                times = {name: [] for name in fs}
                names = list(fs)
                for r in range(reps):
                    for name in names[r % len(names) :] + names[: r % len(names)]:
                        times[name].append(per_call(fs[name], ns[name]))
                M, K, N = product_shape(p, m, d_in, d_out)
                rows.append(((d_in, d_out), p, m, (M, K, N), times))
                med = {k: f"{2 * M * K * N / statistics.median(v) / 1e9:.1f}" for k, v in times.items()}
                print(f"{d_in}x{d_out} {PRODUCTS[p]} m={m}: GFLOP/s {med}", file=sys.stderr, flush=True)
    return rows


def call_overheads(makers: dict, target: float) -> dict:
    """Seconds per call of each contender's forward product on 1 x 1 operands: the Python entry's cost."""
    one = np.ones((1, 1), dtype=np.float32)
    out = {}
    for name, make in makers.items():
        f = make(one, one.copy(), one.copy())[0]
        n = calibrate(f, target)
        out[name] = statistics.median(per_call(f, n) for _ in range(3))
    return out


# ------------------------------------------------------------------------------------------- peak
def cpu_flags() -> set:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def peak_kernels(flags: set) -> list:
    kernels = ["bf16"] if "avx512_bf16" in flags else []
    if "avx512f" in flags:
        kernels.append("f32_512")
    elif {"avx2", "fma"} <= flags:
        kernels.append("f32_256")
    return kernels


def build_peak(tmp: str):
    """The peak program's path, or the reason it could not be built."""
    exe = os.path.join(tmp, "bf16_peak")
    cxx = os.environ.get("CXX", "c++")
    # no -m flags: each loop has its own target attribute, so a CPU without AVX-512 runs the ymm one
    cmd = [cxx, "-O2", "-std=c++17", str(PEAK_SRC), "-o", exe]
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as e:
        return None, f"`{' '.join(cmd)}` failed: {e}"
    if res.returncode != 0:
        return None, f"`{' '.join(cmd)}` failed: {res.stderr.strip()[-300:]}"
    return exe, ""


def run_peak(exe: str, kernel: str) -> float:
    """The best GFLOP/s of the peak program's timings of `kernel`."""
    res = subprocess.run([exe, kernel], capture_output=True, text=True, timeout=120)
    if res.returncode != 0:
        raise RuntimeError(f"bf16_peak {kernel} exited with {res.returncode}: {res.stderr.strip()}")
    return float(res.stdout.split()[2])


def peaks(exe, kernels, into: dict) -> None:
    for k in kernels:
        into.setdefault(k, []).append(run_peak(exe, k))


# ------------------------------------------------------------------------------------------ report
def blas_name() -> str:
    try:
        from threadpoolctl import threadpool_info, threadpool_limits

        threadpool_limits(1)
        libs = [i for i in threadpool_info() if i.get("user_api") == "blas"]
        return ", ".join(f"{i['internal_api']} {i.get('version')} ({i.get('architecture')} kernel)" for i in libs)
    except ImportError:
        return "unknown (no threadpoolctl)"


def cell(flops: float, ts: list) -> str:
    rates = [flops / t / 1e9 for t in ts]
    return f"{statistics.median(rates):.1f} ({min(rates):.1f}-{max(rates):.1f})"


def pct(x) -> str:
    return "—" if x is None else f"{100 * x:.0f}%"


def report(rows, peak: dict, overhead: dict, meta: dict) -> str:
    names = list(rows[0][4])
    kernel = names[0]  # the bf16 kernel in use
    torch_bf16 = "torch bf16" if "torch bf16" in names else None
    bf16_peak = max(peak["bf16"]) if peak.get("bf16") else None
    f32_key = "f32_512" if "f32_512" in peak else "f32_256" if "f32_256" in peak else None
    f32_peak = max(peak[f32_key]) if f32_key else None

    def peak_line(key, label):
        if key in peak:
            return f"{label} {max(peak[key]):.1f} GFLOP/s (before / after the rows: {', '.join(f'{v:.1f}' for v in peak[key])})"
        return None

    peak_lines = [line for line in (peak_line("bf16", "vdpbf16ps zmm"), peak_line(f32_key, f"FMA {f32_key}")) if line]
    if bf16_peak is None:
        peak_lines.append(meta["bf16_peak_note"])
    if bf16_peak and f32_peak:
        peak_lines.append(f"bf16 / float32 peak: {bf16_peak / f32_peak:.2f}")
    head = [
        f"# bf16 products against the bf16 peak ({meta['date']} UTC)",
        "",
        f"CPU: {meta['cpu']}; fastmlp {meta['info'].get('version', '?')}, level {meta['info']['level']}, "
        f"GEMM {meta['info']['gemm']}, bf16 kernel **{meta['info']['bf16']}**"
        + (f" ({meta['info']['bf16_why']})" if meta["info"].get("bf16_why") else "")
        + f"; NumPy's BLAS: {meta['blas']}; torch {meta['torch']}. One thread (fm.set_num_threads(1), "
        f"torch.set_num_threads(1), BLAS limited to 1), CPU affinity {meta['affinity']}"
        + (" (not pinned: run it under taskset -c 0)" if len(meta["affinity"]) > 1 else "")
        + ". "
        f"Load average (1 min) {meta['load'][0]:.2f} before, {meta['load'][1]:.2f} after, on {os.cpu_count()} CPUs.",
        "",
        f"Command: `{meta['command']}`",
        "",
        "Peak (bench/bf16_peak.cpp, one core, register-only loop of independent instructions): "
        + "; ".join(peak_lines)
        + ".",
        "",
        f"Timing: per product, n calls between two clock reads (n calibrated to >= {meta['target']} s), "
        f"{meta['reps']} repetitions with the contenders interleaved (the first rotating); GFLOP/s = 2 M K N / "
        "time per call, median (min-max). Every call goes through Python; its cost, timed on 1 x 1 operands: "
        + ", ".join(f"{k} {v * 1e6:.1f} us" for k, v in overhead.items())
        + ". 'bf16 kernel % bf16 peak' is the bf16 kernel's median rate over the peak, and in brackets with that call cost "
        "taken out of its time; 'bf16 kernel / torch bf16' the ratio of their median rates. "
        + ("" if "fastmlp bf16 emulated" in names else "The emulated path is the kernel in use here: one column. ")
        + "fastmlp float32 has no row: no Python entry reaches fastmlp::gemm<float> alone.",
        "",
        "Check (every shape, before timing): fastmlp's products against float64 sums of the bf16-rounded operands, "
        "largest error as a share of float32 accumulation's bound K 2^-23 |A||B|: "
        + ", ".join(f"{k} {v:.3f}" + (" **WRONG**" if v > 1 else "") for k, v in meta["errors"].items())
        + ".",
        "",
    ]
    cols = ["layer", "product", "m", "M x K x N", *names, "bf16 kernel % bf16 peak", "bf16 kernel % f32 peak"]
    if torch_bf16:
        cols.append("bf16 kernel / torch bf16")
    lines = ["| " + " | ".join(cols) + " |", "|---|---|---:|---|" + "---:|" * (len(cols) - 4)]
    for (d_in, d_out), p, m, (M, K, N), times in rows:
        flops = 2 * M * K * N
        t = statistics.median(times[kernel])
        net = max(t - overhead[kernel], 1e-12)
        of_peak = f"{pct(flops / t / 1e9 / bf16_peak)} ({pct(flops / net / 1e9 / bf16_peak)})" if bf16_peak else "—"
        cells = [f"{d_in}-{d_out}", PRODUCTS[p], str(m), f"{M} x {K} x {N}", *(cell(flops, times[n]) for n in names)]
        cells += [of_peak, pct(flops / t / 1e9 / f32_peak) if f32_peak else "—"]
        if torch_bf16:
            cells.append(f"{statistics.median(times[torch_bf16]) / t:.2f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(head + lines + summary(rows, names, bf16_peak, torch_bf16)) + "\n"


def summary(rows, names, bf16_peak, torch_bf16) -> list:
    """Per batch, the nine products together (sum of flops / sum of median times), and the count of
    products at >= 85% of the bf16 peak and of torch's bf16 matmul (issue 27's bar)."""
    kernel = names[0]
    lines = ["", "All nine products of a batch together (sum of flops / sum of median times), GFLOP/s:", ""]
    lines += ["| m | " + " | ".join(names) + " | bf16 kernel % bf16 peak |", "|---:|" + "---:|" * (len(names) + 1)]
    for m in sorted({r[2] for r in rows}):
        mine = [r for r in rows if r[2] == m]
        flops = sum(2 * M * K * N for *_, (M, K, N), _t in mine)
        rate = {n: flops / sum(statistics.median(r[4][n]) for r in mine) / 1e9 for n in names}
        cells = [f"{rate[n]:.1f}" for n in names] + [pct(rate[kernel] / bf16_peak) if bf16_peak else "—"]
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    rates = [2 * r[3][0] * r[3][1] * r[3][2] / statistics.median(r[4][kernel]) / 1e9 for r in rows]
    lines.append("")
    if bf16_peak:
        share = [x / bf16_peak for x in rates]
        lines.append(
            f"bf16 kernel at >= 85% of the bf16 peak: {sum(x >= 0.85 for x in share)} of {len(share)} products "
            f"(its share: median {pct(statistics.median(share))}, {pct(min(share))}-{pct(max(share))})."
        )
    if torch_bf16:
        ratio = [statistics.median(r[4][torch_bf16]) / statistics.median(r[4][kernel]) for r in rows]
        lines.append(
            f"bf16 kernel at >= 85% of torch's bf16 matmul: {sum(x >= 0.85 for x in ratio)} of {len(ratio)} products."
        )
    return lines


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=None, help="repetitions (default 5; --quick: 3)")
    ap.add_argument("--quick", action="store_true", help="short timings (0.03 s) and 3 reps: a smoke run, ~1 min")
    ap.add_argument("--batches", default="128,512,2048", help="batch sizes m, comma-separated")
    ap.add_argument("--target-time", type=float, default=None, help="seconds per timing (default 0.2; --quick 0.03)")
    ap.add_argument("--no-peak", action="store_true", help="leave the peak program out")
    ap.add_argument("--out", help="also write the markdown report to this file (default: print only)")
    args = ap.parse_args(argv)
    reps = args.reps or (3 if args.quick else 5)
    target = args.target_time or (0.03 if args.quick else 0.2)
    batches = [int(b) for b in args.batches.split(",")]

    import fastmlp as fm

    fm.set_num_threads(1)
    info = fm.build_info()
    try:
        import torch

        torch_version = torch.__version__
    except ImportError:
        torch_version = "not importable"
    blas = blas_name()  # (threadpoolctl also limits NumPy's BLAS to one thread here)
    load0 = os.getloadavg()[0]
    flags = cpu_flags()
    kernels = [] if args.no_peak else peak_kernels(flags)
    peak: dict = {}
    if args.no_peak:
        bf16_note = "bf16 peak left out (--no-peak)"
    elif "bf16" in kernels:
        bf16_note = ""
    else:
        bf16_note = "no bf16 peak: it needs AVX512_BF16 (vdpbf16ps), which this CPU lacks"
    with tempfile.TemporaryDirectory() as tmp:
        exe = None
        if kernels:
            exe, why = build_peak(tmp)
            if exe is None:
                print(f"peak program not built: {why}", file=sys.stderr)
                bf16_note = f"no peak: {why}"
        if exe:
            peaks(exe, kernels, peak)
        makers = contenders(info)
        overhead = call_overheads(makers, target)
        errors: dict = {}
        rows = time_rows(makers, batches, reps, target, np.random.default_rng(0), errors)
        if exe:
            peaks(exe, kernels, peak)
    meta = {
        "date": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
        "cpu": cpu_name(),
        "info": info,
        "blas": blas,
        "torch": torch_version,
        "affinity": sorted(os.sched_getaffinity(0)),
        "load": (load0, os.getloadavg()[0]),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "target": target,
        "reps": reps,
        "bf16_peak_note": bf16_note,
        "errors": errors,
    }
    text = report(rows, peak, overhead, meta)
    print(text)
    if args.out:
        Path(args.out).write_text(text)
        print(f"wrote {args.out}", file=sys.stderr)
    if any(e > 1 for e in errors.values()):
        sys.exit("a fastmlp bf16 product is off its float32 accumulation bound (see the report)")


if __name__ == "__main__":
    main()
