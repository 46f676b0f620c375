#!/usr/bin/env python3
"""GPU section of the benchmarks (issue 7): fastmlp device="cuda" vs PyTorch CUDA.

Same workload for both, float32, data resident on the GPU, plain SGD, ReLU hidden
layers, softmax + categorical cross-entropy, shuffled mini-batches each epoch:

  * MNIST-shaped MLP 784-256-128-10, batches 32 ... 8192
  * wide MLP 4096-4096-4096-10, batches 256 ... 8192

Reported per row: training samples/s (best of --reps timed epochs after a warm-up
epoch; each timing ends with a device synchronisation), the ratio fastmlp / PyTorch,
and each one's achieved FLOP rate as a % of a measured cuBLAS SGEMM peak (torch.mm on
8192 x 8192 float32, TF32 off; 6 FLOP per weight per sample for forward + backward,
minus the first layer's unneeded input gradient). TF32 is off for both.

    python bench/bench_cuda.py [--quick] [--reps 3] [--out bench/RESULTS_CUDA.md]

Needs a CUDA build of fastmlp (CMAKE_ARGS="-DFASTMLP_CUDA=ON") and PyTorch with CUDA;
exits with a message when either or a GPU is missing.
"""

import argparse
import datetime
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
NETS = {
    "mlp": ([784, 256, 128, 10], [32, 128, 512, 2048, 8192], 65536),
    "wide": ([4096, 4096, 4096, 10], [256, 1024, 4096, 8192], 16384),
}
LR = 0.01


def train_flops_per_sample(sizes):
    pairs = list(zip(sizes[:-1], sizes[1:]))
    return 6 * sum(a * b for a, b in pairs) - 2 * pairs[0][0] * pairs[0][1]


def sgemm_peak(torch, n=8192, reps=20):
    a = torch.randn(n, n, device="cuda")
    b = torch.randn(n, n, device="cuda")
    for _ in range(3):
        a @ b
    torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(reps):
        a @ b
    torch.cuda.synchronize()
    return 2.0 * n**3 * reps / (time.perf_counter() - t)


def time_fastmlp(fm, sizes, X, y, batch, reps, target=1.0):
    """Seconds per epoch of the device loop, from fit(1 + E epochs) - fit(1 epoch) (best of reps each), E sized
    so a run takes about `target` s: the one upload of the data per fit call is not counted (PyTorch's data is
    resident too), and its noise is spread over E epochs."""
    layers = [fm.Dense(a, b, "relu") for a, b in zip(sizes[:-2], sizes[1:-1])]
    layers.append(fm.Dense(sizes[-2], sizes[-1], "softmax"))
    model = fm.Sequential(layers, dtype="float32", seed=0, optimizer=fm.SGD(LR), device="cuda")
    dev = model._device_net()
    config = model.optimizer.get_config()

    def run(epochs):  # returns after a device synchronisation
        t = time.perf_counter()
        dev.fit(
            config,
            X,
            y,
            None,
            None,
            None,
            epochs,
            batch,
            0.0,
            True,
            0,
            0,
            {"kind": "constant"},
            None,
            False,
            None,
            False,
        )
        return time.perf_counter() - t

    run(1)  # warm-up: allocations, cuBLAS heuristics
    t1 = min(run(1) for _ in range(reps))
    t2 = min(run(2) for _ in range(reps))
    extra = min(100, max(2, int(target / max(t2 - t1, 1e-3))))
    tn = min(run(1 + extra) for _ in range(reps))
    return X.shape[0] * extra / max(tn - t1, 1e-9)


def time_fastmlp_api(fm, sizes, X, y, batch, epochs):
    """Through model.fit (uploads the data and weights once per call): samples/s over `epochs` epochs."""
    layers = [fm.Dense(a, b, "relu") for a, b in zip(sizes[:-2], sizes[1:-1])]
    layers.append(fm.Dense(sizes[-2], sizes[-1], "softmax"))
    model = fm.Sequential(layers, dtype="float32", seed=0, optimizer=fm.SGD(LR), device="cuda")
    model.fit(X, y, epochs=1, batch_size=batch)
    t = time.perf_counter()
    model.fit(X, y, epochs=epochs, batch_size=batch)
    return epochs * X.shape[0] / (time.perf_counter() - t)


def time_torch(torch, sizes, X, y, batch, reps):
    torch.manual_seed(0)
    mods = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        mods.append(torch.nn.Linear(a, b))
        if i < len(sizes) - 2:
            mods.append(torch.nn.ReLU())
    net = torch.nn.Sequential(*mods).cuda()
    opt = torch.optim.SGD(net.parameters(), lr=LR)
    loss_fn = torch.nn.CrossEntropyLoss()
    Xd = torch.from_numpy(X).cuda()
    yd = torch.from_numpy(y.astype(np.int64)).cuda()
    m = X.shape[0]

    def epoch():
        order = torch.randperm(m, device="cuda")
        for start in range(0, m, batch):
            idx = order[start : start + batch]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(net(Xd[idx]), yd[idx])
            loss.backward()
            opt.step()
        torch.cuda.synchronize()

    epoch()  # warm-up
    t = time.perf_counter()
    epoch()
    epochs = min(100, max(1, int(1.0 / (time.perf_counter() - t))))  # about 1 s per timing, as for fastmlp
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        for _ in range(epochs):
            epoch()
        best = min(best, (time.perf_counter() - t) / epochs)
    return m / best


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer samples and batch sizes (smoke test)")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--out", default=os.path.join(HERE, "RESULTS_CUDA.md"))
    args = ap.parse_args()

    try:
        import torch
    except ImportError:
        sys.exit("bench_cuda: PyTorch is not installed; the GPU comparison needs torch with CUDA")
    if not torch.cuda.is_available():
        sys.exit("bench_cuda: no CUDA GPU is available (torch.cuda.is_available() is False); nothing to measure")
    try:
        import fastmlp as fm
    except ImportError:  # not installed: the repo's python/ (with a built _core in place)
        sys.path.insert(0, os.path.join(os.path.dirname(HERE), "python"))
        import fastmlp as fm

    if not fm.cuda_available():
        from fastmlp import _cuda

        sys.exit(f"bench_cuda: fastmlp cannot use the GPU: {_cuda.unavailable_reason()}")
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False

    peak = sgemm_peak(torch)
    gpu = torch.cuda.get_device_name(0)
    print(f"{gpu}: measured SGEMM peak {peak / 1e12:.1f} TFLOP/s (torch.mm 8192^3, fp32, TF32 off)", flush=True)
    rows = []
    for name, (sizes, batches, m) in NETS.items():
        if args.quick:
            m, batches = min(m, 8192), batches[:: max(1, len(batches) // 2)]
        rng = np.random.default_rng(0)
        X = rng.normal(size=(m, sizes[0])).astype(np.float32)
        y = rng.integers(0, sizes[-1], size=m).astype(np.int32)
        flops = train_flops_per_sample(sizes)
        for batch in batches:
            f = time_fastmlp(fm, sizes, X, y, batch, args.reps)
            t = time_torch(torch, sizes, X, y, batch, args.reps)
            row = dict(
                net="-".join(map(str, sizes)),
                batch=batch,
                fastmlp=f,
                torch=t,
                ratio=f / t,
                fpeak=100 * f * flops / peak,
                tpeak=100 * t * flops / peak,
            )
            rows.append(row)
            print(
                f"{row['net']:>20} batch {batch:>5}: fastmlp {f:12.0f}/s ({row['fpeak']:5.1f}% peak)   "
                f"torch {t:12.0f}/s ({row['tpeak']:5.1f}% peak)   ratio {row['ratio']:.2f}",
                flush=True,
            )
    rng = np.random.default_rng(1)
    api = time_fastmlp_api(
        fm,
        NETS["mlp"][0],
        rng.normal(size=(8192, 784)).astype(np.float32),
        rng.integers(0, 10, size=8192).astype(np.int32),
        512,
        3,
    )
    print(f"model.fit API, 784-256-128-10, batch 512: {api:,.0f} samples/s")

    lines = [
        "# fastmlp CUDA vs PyTorch CUDA",
        "",
        f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, {gpu}, torch {torch.__version__} "
        f"(CUDA {torch.version.cuda}), fastmlp {fm.__version__} ({fm._core.cuda_device_name()}).",
        f"Measured SGEMM peak (torch.mm, 8192^3, fp32, TF32 off): **{peak / 1e12:.1f} TFLOP/s**.",
        "",
        "Training throughput, float32, plain SGD (lr 0.01), ReLU + softmax/cross-entropy, data on the GPU, a new",
        "random order every epoch; each timing runs about 1 s of epochs and ends with a device synchronisation, best",
        f"of {args.reps}. fastmlp: fit(1 + E epochs) - fit(1 epoch), so the one upload of the data per fit call is not counted",
        "(PyTorch's data is resident too). `% peak` = samples/s x",
        "training FLOP per sample (6 per weight, minus the first layer's input gradient) / SGEMM peak.",
        "",
        "| net | batch | fastmlp samples/s | PyTorch samples/s | fastmlp / PyTorch | fastmlp % peak | PyTorch % peak |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['net']} | {r['batch']} | {r['fastmlp']:,.0f} | {r['torch']:,.0f} | {r['ratio']:.2f} | "
            f"{r['fpeak']:.1f} | {r['tpeak']:.1f} |"
        )
    lines += [
        "",
        "Through the Python API (`model.fit`, which uploads data and weights once per call and downloads the",
        f"weights after it), 784-256-128-10, batch 512, 8192 samples x 3 epochs: {api:,.0f} samples/s.",
        "",
        "How: `python bench/bench_cuda.py` (see its docstring). fastmlp's timings call the device network's fit",
        '(what `model.fit` runs on device="cuda") directly.',
    ]
    with open(args.out, "w") as fh:
        fh.write("\n".join(lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
