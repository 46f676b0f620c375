"""The Contender interface and what all contenders share on the worker side: timing and calibration
around the methods a contender implements, the sgemm limit, the BLAS report, where fastmlp comes from."""

import os
import statistics
import sys
import time

from .workload import REPO, make_data


class Contender:
    name = "?"
    supports_train = True
    supports_inference = True
    supports_digits = True

    def __init__(self, threads, n_total):
        self.threads = threads
        self.n_total = n_total
        self.X = self.y = None

    def load_data(self):
        if self.X is None and self.n_total:
            self.X, self.y = make_data(self.n_total)

    # -- to implement ---------------------------------------------------------------
    def info(self):
        return {}

    def reset(self):
        pass

    def prepare_train(self, batch, n):
        pass

    def train_run(self, batch, n):
        raise NotImplementedError

    def infer_fn(self, m):
        raise NotImplementedError

    def sgemm(self, N, reps):
        raise NotImplementedError

    def digits(self, data, seed, lr, batch, max_epochs, target):
        raise NotImplementedError

    # -- generic ----------------------------------------------------------------------
    def timed_train(self, batch, n):
        self.reset()
        self.prepare_train(batch, n)
        t0 = time.perf_counter()
        self.train_run(batch, n)
        return time.perf_counter() - t0

    def calib_train(self, batch, cap, target):
        cap = max(batch, (cap // batch) * batch)
        n = min(cap, max(2 * batch, (512 // batch) * batch if batch > 1 else 100))
        t = self.timed_train(batch, n)
        for _ in range(3):
            want = int(target * n / max(t, 1e-9))
            want = max(min(2 * batch, cap), min(cap, (want // batch) * batch))
            if want == n:
                break
            n = want
            t = self.timed_train(batch, n)
            if 0.5 * target <= t <= 2.0 * target or n == cap:
                break
        return {"n": n, "seconds": t}

    def latency(self, calls):
        f = self.infer_fn(1)
        clock = time.perf_counter_ns
        ts = [0] * calls
        for i in range(calls):
            t0 = clock()
            f()
            ts[i] = clock() - t0
        return {"seconds": statistics.median(ts) * 1e-9, "calls": calls}

    def calib_latency(self, target, min_calls):
        f = self.infer_fn(1)
        for _ in range(20):
            f()
        t0 = time.perf_counter()
        for _ in range(100):
            f()
        per = (time.perf_counter() - t0) / 100
        calls = int(max(min_calls, min(200000, target / max(per, 1e-9))))
        return {"calls": calls, "seconds_per_call": per}

    def throughput(self, m, iters):
        f = self.infer_fn(m)
        t0 = time.perf_counter()
        for _ in range(iters):
            f()
        return {"seconds": time.perf_counter() - t0}

    def calib_throughput(self, m, target):
        f = self.infer_fn(m)
        f()
        t0 = time.perf_counter()
        f()
        t = time.perf_counter() - t0
        iters = int(max(1, min(1000, round(target / max(t, 1e-9)))))
        return {"iters": iters, "seconds_per_iter": t}


def blas_info():
    try:
        from threadpoolctl import threadpool_info

        return [
            {
                k: d.get(k)
                for k in (
                    "internal_api",
                    "prefix",
                    "version",
                    "architecture",
                    "num_threads",
                    "threading_layer",
                    "filepath",
                )
            }
            for d in threadpool_info()
        ]
    except Exception as e:  # pragma: no cover
        return [{"error": repr(e)}]


def np_sgemm(N, reps):
    import numpy as np

    rng = np.random.default_rng(1)
    A = rng.random((N, N), dtype=np.float32)
    B = rng.random((N, N), dtype=np.float32)
    C = np.empty((N, N), dtype=np.float32)
    np.matmul(A, B, out=C)
    out = []
    for _ in range(reps):
        t0 = time.perf_counter()
        np.matmul(A, B, out=C)
        out.append(2.0 * N**3 / (time.perf_counter() - t0) / 1e9)
    return out


def import_fastmlp():
    try:
        import fastmlp

        return fastmlp
    except ImportError:
        sys.path.insert(0, os.path.join(REPO, "python"))
        import fastmlp  # noqa: F811

        return fastmlp
