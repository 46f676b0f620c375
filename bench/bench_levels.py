"""fastmlp's speed at each SIMD level built into the installed package (x86-64-v2/v3/v4).

Each level runs in its own subprocess with FASTMLP_ARCH=<level> (which forces fastmlp._core to
import that build), 1 thread, on the 784-256-128-10 workload of bench_mlp.py: training samples/s at
batch 32 and 512, single-sample inference latency and batch-10,000 inference. Medians of 5.

    python bench/bench_levels.py [--out bench/RESULTS_LEVELS.md]
"""

import argparse
import json
import os
import subprocess
import sys
import time

WORKER = r"""
import json, time, numpy as np, fastmlp as fm
fm.set_num_threads(1)
rng = np.random.default_rng(0)
X = rng.random((20000, 784), dtype=np.float32); y = rng.integers(0, 10, 20000)
def model():
    layers = [fm.Dense(784, 256, "relu"), fm.Dense(256, 128, "relu"), fm.Dense(128, 10, "softmax")]
    return fm.Sequential(layers, seed=0, optimizer="sgd")  # plain SGD, as the rows say (the default is Adam)
def med(f, reps=5):
    ts = []
    for _ in range(reps):
        t = time.perf_counter(); f(); ts.append(time.perf_counter() - t)
    return sorted(ts)[len(ts) // 2]
out = {"level": fm.build_info()["level"], "gemm": fm.build_info()["gemm"]}
for bs in (32, 512):
    m = model()
    out[f"train_b{bs}"] = 20000 / med(lambda: m.fit(X, y, epochs=1, batch_size=bs, learning_rate=0.01, shuffle=False))
m = model(); x1 = X[:1]
for _ in range(500): m.forward(x1)
out["latency_us"] = med(lambda: [m.forward(x1) for _ in range(2000)]) / 2000 * 1e6
out["infer_b10000"] = 10000 / med(lambda: m.forward(X[:10000]))
print(json.dumps(out))
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "RESULTS_LEVELS.md"))
    args = ap.parse_args()
    import fastmlp as fm

    levels = [lvl.replace("x86-64-", "") for lvl in fm.build_info()["levels_built"]]
    rows = []
    for level in levels:
        env = dict(os.environ, FASTMLP_ARCH=level, OMP_NUM_THREADS="1")
        done = subprocess.run([sys.executable, "-c", WORKER], env=env, capture_output=True, text=True)
        if done.returncode != 0:
            print(f"{level}: failed: {done.stderr.strip().splitlines()[-1:]}")
            continue
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(rows[-1])
    lines = [
        f"# fastmlp at each SIMD level ({time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC)",
        "",
        "784-256-128-10, float32, plain SGD, 1 thread, medians of 5; the level forced with FASTMLP_ARCH.",
        "",
        "| level | GEMM kernel | train b=32 (samples/s) | train b=512 (samples/s) | latency 1 sample (µs) | "
        "inference b=10000 (samples/s) |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['level']} | {r['gemm']} | {r['train_b32'] / 1e3:.1f}k | {r['train_b512'] / 1e3:.1f}k | "
            f"{r['latency_us']:.1f} | {r['infer_b10000'] / 1e3:.1f}k |"
        )
    with open(args.out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
