"""dtype="mixed_bfloat16" against float32 (and PyTorch's bf16 autocast) on the bench net.

784-256-128-10 (relu, relu, softmax), plain SGD, one thread, training samples/s over one epoch of
N samples at batch 128, 512 and 2048; the modes run interleaved (rep 1 of every mode, then rep 2, ...)
so that a slow moment of a shared machine hits all of them; medians and min-max of the reps. Pin it:

    taskset -c 0 python bench/bench_bf16.py [--reps 7] [--samples 16384] [--torch] [--out bench/RESULTS_BF16.md]

FASTMLP_ARCH=v3 forces the AVX2 kernels (the emulated bf16 path of an AVX-512 CPU).

With --torch the process runs under jemalloc where the system has it (Debian: apt-get install libjemalloc2;
--allocator system turns it off): the bench re-executes itself with LD_PRELOAD. PyTorch's CPU performance
guide recommends jemalloc or TCMalloc, and PyTorch needs it here: with glibc's malloc its step allocates
fresh pages for its tensors (page faults: a fifth of its time at batch 2048 in perf), and it trained at
152k-334k samples/s from run to run on the same core; under jemalloc at 273k-314k. fastmlp allocates
nothing in a step, and measured the same under either.
"""

import argparse
import os
import platform
import statistics
import sys
import time
import warnings

import numpy as np


def cpu_name() -> str:
    """The model name with the x86 family / model numbers (a VM may name only the vendor)."""
    fields = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                fields.setdefault(key.strip(), value.strip())
    except OSError:
        return platform.processor() or "unknown CPU"
    name = fields.get("model name", "unknown CPU")
    return f"{name} (family {fields.get('cpu family', '?')}, model {fields.get('model', '?')})"


def fastmlp_epoch(dtype, X, y, batch):
    import fastmlp as fm

    layers = [fm.Dense(256, activation="relu"), fm.Dense(128, activation="relu"), fm.Dense(10, activation="softmax")]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fm.Bf16EmulationWarning)
        model = fm.Sequential(layers, dtype=dtype, seed=0, optimizer=fm.SGD(learning_rate=0.01))
    model.fit(X[:batch], y[:batch], epochs=1, batch_size=batch, shuffle=False, verbose=0)  # build, warm up

    def run():
        model.fit(X, y, epochs=1, batch_size=batch, shuffle=False, verbose=0)

    return run


def torch_epoch(X, y, batch):
    import torch

    torch.set_num_threads(1)
    net = torch.nn.Sequential(
        torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10)
    )
    opt = torch.optim.SGD(net.parameters(), lr=0.01)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    loss_fn = torch.nn.CrossEntropyLoss()

    def run():
        for i in range(0, len(Xt), batch):
            opt.zero_grad(set_to_none=True)
            with torch.autocast("cpu", dtype=torch.bfloat16):
                loss = loss_fn(net(Xt[i : i + batch]), yt[i : i + batch])
            loss.backward()
            opt.step()

    run()
    return run


TORCH = "torch bf16 autocast"
JEMALLOC = ("/usr/lib/x86_64-linux-gnu/libjemalloc.so.2", "/usr/lib/aarch64-linux-gnu/libjemalloc.so.2")


def preloaded(allocator: str) -> str:
    """The allocator library this process runs under: re-executes it under jemalloc first where asked."""
    have = os.environ.get("LD_PRELOAD", "")
    if allocator == "system" or "jemalloc" in have:
        return have or "system malloc"
    path = next((p for p in JEMALLOC if os.path.exists(p)), None)
    if path is None:
        print("jemalloc not found (apt-get install libjemalloc2): PyTorch runs on glibc's malloc")
        return "system malloc"
    env = dict(os.environ, LD_PRELOAD=" ".join(filter(None, [have, path])))
    os.execve(sys.executable, [sys.executable, *sys.argv], env)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--samples", type=int, default=16384)
    ap.add_argument("--batches", default="128,512,2048")
    ap.add_argument("--torch", action="store_true", help="add PyTorch 1-thread bf16 autocast")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "RESULTS_BF16.md"))
    ap.add_argument("--allocator", choices=["jemalloc", "system"], default="jemalloc", help="with --torch")
    args = ap.parse_args()
    allocator = preloaded(args.allocator) if args.torch else os.environ.get("LD_PRELOAD") or "system malloc"
    import fastmlp as fm

    fm.set_num_threads(1)
    rng = np.random.default_rng(0)
    X = rng.random((args.samples, 784), dtype=np.float32)
    y = rng.integers(0, 10, args.samples)
    info = fm.build_info()
    batches = [int(b) for b in args.batches.split(",")]
    rows, load_before = [], os.getloadavg()[0]
    for batch in batches:
        modes = {
            "float32": fastmlp_epoch("float32", X, y, batch),
            "mixed_bfloat16": fastmlp_epoch("mixed_bfloat16", X, y, batch),
        }
        if args.torch:
            modes[TORCH] = torch_epoch(X, y, batch)
        times = {name: [] for name in modes}
        for _ in range(args.reps):
            for name, run in modes.items():
                t = time.perf_counter()
                run()
                times[name].append(time.perf_counter() - t)
        rates = {name: [args.samples / t for t in ts] for name, ts in times.items()}
        ratios = [t32 / tbf for t32, tbf in zip(times["float32"], times["mixed_bfloat16"])]
        torch_ratios = [tt / tbf for tt, tbf in zip(times.get(TORCH, []), times["mixed_bfloat16"])]
        rows.append((batch, rates, ratios, torch_ratios))
        print(
            batch,
            {k: f"{statistics.median(v) / 1e3:.1f}k" for k, v in rates.items()},
            f"ratio {statistics.median(ratios):.3f}",
            f"vs torch {statistics.median(torch_ratios):.3f}" if torch_ratios else "",
        )

    def cell(v):
        return f"{statistics.median(v) / 1e3:.1f}k ({min(v) / 1e3:.1f}-{max(v) / 1e3:.1f})"

    names = list(rows[0][1])
    lines = [
        f"# mixed_bfloat16 vs float32 ({time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC)",
        "",
        f"CPU: {cpu_name()}; fastmlp level {info['level']}, GEMM {info['gemm']}, bf16 kernel {info['bf16']} "
        f"(CPU avx512_bf16: {info['cpu_avx512_bf16']}). 784-256-128-10, plain SGD (lr 0.01), 1 thread, "
        f"one epoch of {args.samples} samples per rep, {args.reps} reps interleaved; training samples/s, "
        "median (min-max). Ratios: the other mode's time / mixed time per rep (> 1: mixed faster), median "
        f"(min-max). Allocator: {allocator}. Load average (1 min) {load_before:.1f} before, "
        f"{os.getloadavg()[0]:.1f} after, on {os.cpu_count()} CPUs.",
        "",
        "| batch | "
        + " | ".join(names)
        + " | mixed / float32 speed |"
        + (" mixed / torch speed |" if args.torch else ""),
        "|---:|" + "---:|" * (len(names) + 1 + bool(args.torch)),
    ]

    def ratio(r):
        return f" {statistics.median(r):.3f} ({min(r):.3f}-{max(r):.3f}) |"

    for batch, rates, ratios, torch_ratios in rows:
        lines.append(
            f"| {batch} | "
            + " | ".join(cell(rates[n]) for n in names)
            + " |"
            + ratio(ratios)
            + (ratio(torch_ratios) if torch_ratios else "")
        )
    # The new run goes on top; what the file held stays below it (its title becomes "## Earlier: ..."),
    # so that older runs and the sections other scripts append are never lost. Written to a temporary
    # file, then renamed: an interrupted write leaves the old file.
    old = open(args.out).read() if os.path.exists(args.out) else ""
    if old.startswith("# "):
        old = "## Earlier: " + old[2:]
    tmp = args.out + ".tmp"
    with open(tmp, "w") as f:
        f.write("\n".join(lines) + "\n" + ("\n" + old if old else ""))
    os.replace(tmp, args.out)
    print(f"wrote {args.out} (earlier runs kept below)")


if __name__ == "__main__":
    main()
