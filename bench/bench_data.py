#!/usr/bin/env python3
"""Training from a file larger than memory (fastmlp.data) against the same fit on in-memory arrays.

    python bench/bench_data.py [--gb 8] [--out bench/RESULTS_DATA.md]

Generates a float32 .npy of --gb gigabytes (784 features, 10 classes) in a temporary folder on
disk, trains the 784-256-128-10 MLP one epoch on it (1) from the file through fm.data.from_npy
with its page cache warm (read once just before), (2) from the file with its page cache cold
(its pages evicted with posix_fadvise(DONTNEED) just before: every byte comes from the disk) and
(3) from the same rows held in memory (a sample of them when the file does not fit: the rate is
per sample), each in a fresh process,
reports samples/s and each process's peak RSS, and deletes the file. The products run on one
thread (fm.set_num_threads(1)); the reading thread may use the machine's other core, which is the
point of prefetching. Median of --reps runs.
"""

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
WORKER = r"""
import sys, time, numpy as np, fastmlp as fm
mode, xpath, ypath, rows_in_memory, chunk_rows = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
fm.set_num_threads(1)
model = fm.Sequential([fm.Dense(784, 256, "relu"), fm.Dense(256, 128, "relu"), fm.Dense(128, 10, "softmax")],
                      seed=0, optimizer=fm.SGD(0.01))
if mode == "file":
    data = fm.data.from_npy([xpath], [ypath], chunk_rows=chunk_rows)
    rows = data.n_rows
    t0 = time.perf_counter()
    model.fit(data, epochs=1, batch_size=512, shuffle=True)
else:
    X = np.array(np.load(xpath, mmap_mode="r")[:rows_in_memory])
    y = np.array(np.load(ypath, mmap_mode="r")[:rows_in_memory])
    rows = len(X)
    t0 = time.perf_counter()
    model.fit(X, y, epochs=1, batch_size=512, shuffle=True)
seconds = time.perf_counter() - t0
peak = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM")) / 1024  # this process's
print(rows / seconds, peak)
"""


def cpu_name():
    try:
        return next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor()


def evict(path) -> str:
    """Drops the file's pages from the page cache (no privileges needed); returns what fincore
    (util-linux) then reports as cached, or "not checked"."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)
    try:
        out = subprocess.run(["fincore", "-nb", "-o", "RES", path], capture_output=True, text=True, check=True)
        return f"{int(out.stdout.split()[0]) / 1e6:.0f} MB"
    except (OSError, subprocess.CalledProcessError, ValueError, IndexError):
        return "not checked"


def run(args, *argv):
    cmd = [sys.executable, "-c", WORKER, *map(str, argv)]
    done = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    if done.returncode != 0:
        sys.exit(done.stderr)
    rate, rss = map(float, done.stdout.split()[-2:])
    return rate, rss


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--gb", type=float, default=8.0)
    p.add_argument("--chunk-rows", type=int, default=10240)
    p.add_argument("--memory-rows", type=int, default=600_000, help="rows of the in-memory comparison")
    p.add_argument("--reps", type=int, default=1)
    p.add_argument("--dir", default=None, help="where to write the file (default: a temporary folder)")
    p.add_argument("--out", default=os.path.join(HERE, "RESULTS_DATA.md"))
    args = p.parse_args()
    import numpy as np

    folder = tempfile.mkdtemp(dir=args.dir)
    try:
        rows = int(args.gb * 1e9 / (784 * 4))
        xpath, ypath = os.path.join(folder, "X.npy"), os.path.join(folder, "y.npy")
        X = np.lib.format.open_memmap(xpath, mode="w+", dtype=np.float32, shape=(rows, 784))
        rng = np.random.default_rng(0)
        for a in range(0, rows, 65536):
            X[a : a + 65536] = rng.random((min(65536, rows - a), 784), dtype=np.float32)
        X.flush()
        del X
        np.save(ypath, rng.integers(0, 10, size=rows))
        size_gb = os.path.getsize(xpath) / 1e9
        with open(xpath, "rb") as f:  # warm the page cache as far as it holds the file
            while f.read(1 << 26):
                pass
        file_runs = [run(args, "file", xpath, ypath, 0, args.chunk_rows) for _ in range(args.reps)]
        cold_runs = []
        for _ in range(args.reps):
            cached_before = evict(xpath)
            cold_runs.append(run(args, "file", xpath, ypath, 0, args.chunk_rows))
        mem_runs = [run(args, "memory", xpath, ypath, args.memory_rows, 0) for _ in range(args.reps)]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    f_rate = statistics.median(r for r, _ in file_runs)
    c_rate = statistics.median(r for r, _ in cold_runs)
    m_rate = statistics.median(r for r, _ in mem_runs)
    f_rss = max(rss for _, rss in file_runs)
    m_rss = max(rss for _, rss in mem_runs)
    mem_gb = args.memory_rows * 784 * 4 / 1e9
    lines = [
        f"# Training from a file larger than memory — {cpu_name()}",
        "",
        f"`python bench/bench_data.py --gb {args.gb:g}`: a {size_gb:.1f} GB float32 .npy ({rows:,} rows x 784), "
        f"784-256-128-10 MLP, plain SGD, batch 512, shuffled, one epoch, products on one thread "
        f"{args.reps} run(s) each, {os.cpu_count()} vCPUs, {os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB RAM. "
        "Page cache warm: the file was read once before (what did not fit was read from disk); cold: its "
        "pages were evicted with posix_fadvise(POSIX_FADV_DONTNEED) just before the run.",
        "",
        "| data | samples/s | peak RSS |",
        "|---|---:|---:|",
        f"| `fm.data.from_npy` on the {size_gb:.1f} GB file, chunks of {args.chunk_rows:,} rows | {f_rate:,.0f} | "
        f"{f_rss:,.0f} MB |",
        f"| the same, page cache cold (evicted before the run; {cached_before} cached after eviction) | "
        f"{c_rate:,.0f} | {max(rss for _, rss in cold_runs):,.0f} MB |",
        f"| in-memory arrays ({args.memory_rows:,} rows, {mem_gb:.1f} GB) | {m_rate:,.0f} | {m_rss:,.0f} MB |",
        "",
        f"Throughput from the file: {100 * f_rate / m_rate:.0f}% of in memory with the page cache warm, "
        f"{100 * c_rate / m_rate:.0f}% cold. Peak RSS from the file: "
        f"{f_rss:,.0f} MB for a {size_gb:.1f} GB file (the model, the prefetch queue of 2 chunks of "
        f"{args.chunk_rows * 784 * 4 / 1e6:.0f} MB and the chunk in training).",
    ]
    open(args.out, "w").write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
