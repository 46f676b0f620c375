#!/usr/bin/env python3
"""fastmlp benchmark harness (issue 3).

Compares fastmlp with PyTorch (CPU, eager), a plain NumPy implementation and
scikit-learn's MLPClassifier on an MNIST-shaped MLP 784-256-128-10
(ReLU hidden layers, softmax + categorical cross-entropy, float32, plain SGD),
plus a time-to-97%-accuracy task on sklearn's digits data set.

    python bench/bench_mlp.py [--quick] [--reps N] [--threads 1 2] [--out bench/RESULTS.md]

Design
------
* Every contender runs in its own persistent worker subprocess, one per
  (contender, thread count).  The parent sends JSON commands over a pipe and
  alternates contenders within each repetition (the starting contender rotates
  from one repetition to the next), so slow drifts of the machine hit all
  contenders alike.
* Workers run with a copy of the environment from which OPENBLAS_CORETYPE and
  OPENBLAS_L2_SIZE are removed (they can slow OpenBLAS down), and with
  OPENBLAS_NUM_THREADS / OMP_NUM_THREADS / MKL_NUM_THREADS set to the thread
  count; NumPy/sklearn workers additionally use threadpoolctl, PyTorch uses
  torch.set_num_threads, fastmlp uses fm.set_num_threads when it exists.
* Each timing is sized (per contender, in a calibration pass that also warms
  up) to take about --target-time seconds (default 1 s).
* Before every timed training run the model is reset to the same initial
  weights (outside the timed region), so every repetition does identical work.

See bench/README.md for what every row means.
"""

import argparse
import datetime
import json
import os
import platform
import select
import statistics
import subprocess
import sys
import tempfile
import time
import traceback

LAYERS = [784, 256, 128, 10]
LR = 0.01
N_CLASSES = 10
DATA_SEED = 0
MODEL_SEED = 0
REMOVED_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
AVX2_CORETYPE = "Haswell"  # OpenBLAS's AVX2+FMA kernels (Zen 1-3 use them too)
# fastmlp-vN: the same package with FASTMLP_ARCH=vN (forces that SIMD build, e.g. the AVX2 path on an
# AVX-512 CPU); "fastmlp" is the build fastmlp picks for the CPU.
FASTMLP_VARIANTS = ("fastmlp", "fastmlp-v4", "fastmlp-v3", "fastmlp-v2")
AVX2_VARIANTS = ("fastmlp-v3",)  # held against OpenBLAS's AVX2 kernel where the CPU has AVX-512
ALL_CONTENDERS = FASTMLP_VARIANTS + ("torch", "jax", "jax-scan", "onnxruntime", "numpy", "sklearn")
DEFAULT_CONTENDERS = ("fastmlp", "fastmlp-v3", "torch", "jax", "jax-scan", "onnxruntime", "numpy", "sklearn")
LABEL = {
    "fastmlp": "fastmlp",
    "fastmlp-v4": "fastmlp v4",
    "fastmlp-v3": "fastmlp v3 (AVX2)",
    "fastmlp-v2": "fastmlp v2",
    "torch": "PyTorch",
    "jax": "JAX jit step",
    "jax-scan": "JAX scan epoch",
    "onnxruntime": "onnxruntime",
    "numpy": "NumPy",
    "sklearn": "scikit-learn",
}

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


# --------------------------------------------------------------------------------------
# FLOP accounting (multiply-add = 2 FLOP; bias adds, activations, softmax/loss and the
# SGD update are elementwise O(params) work and are not counted)
# --------------------------------------------------------------------------------------
def forward_flops(layers=LAYERS):
    return sum(2 * a * b for a, b in zip(layers[:-1], layers[1:]))


def train_flops(layers=LAYERS):
    fwd = forward_flops(layers)
    dW = fwd  # dW_l = a_{l-1}^T dZ_l, every layer
    dX = sum(2 * a * b for a, b in zip(layers[1:-1], layers[2:]))  # dA_{l-1} = dZ_l W_l^T, layers 2..L
    return fwd + dW + dX


FLOP_FORMULA = (
    "forward = sum_l 2*n_in*n_out = 2*(784*256 + 256*128 + 128*10) = {f:,} FLOP/sample; "
    "training = forward + dW (same as forward) + dX for layers 2 and 3 "
    "(2*(256*128 + 128*10) = {dx:,}) = {t:,} FLOP/sample; inference = forward. "
    "Bias, activation, softmax/loss and SGD-update work (O(#params) elementwise) is not counted."
)


# ======================================================================================
# Worker side
# ======================================================================================
def make_data(n_total):
    import numpy as np

    rng = np.random.default_rng(DATA_SEED)
    X = rng.random((n_total, LAYERS[0]), dtype=np.float32)
    y = rng.integers(0, N_CLASSES, size=n_total).astype(np.int64)
    return X, y


class NumpyMLP:
    """Plain NumPy MLP: ReLU hidden layers, softmax + categorical cross-entropy, SGD."""

    def __init__(self, sizes, seed, dtype="float32"):
        import numpy as np

        self.np = np
        self.dtype = np.dtype(dtype)
        rng = np.random.default_rng(seed)
        self.W, self.b = [], []
        L = len(sizes) - 1
        for i, (a, c) in enumerate(zip(sizes[:-1], sizes[1:])):
            # He-uniform for ReLU layers, Glorot-uniform for the softmax layer (as fastmlp)
            lim = np.sqrt(6.0 / a) if i < L - 1 else np.sqrt(6.0 / (a + c))
            self.W.append(rng.uniform(-lim, lim, size=(a, c)).astype(self.dtype))
            self.b.append(np.zeros(c, dtype=self.dtype))
        self._ar = {}

    def snapshot(self):
        return [w.copy() for w in self.W], [b.copy() for b in self.b]

    def restore(self, snap):
        for w, s in zip(self.W, snap[0]):
            w[...] = s
        for b, s in zip(self.b, snap[1]):
            b[...] = s

    def forward(self, X):
        np = self.np
        a = X
        L = len(self.W)
        for i in range(L):
            z = a @ self.W[i]
            z += self.b[i]
            if i < L - 1:
                a = np.maximum(z, 0, out=z)
            else:
                z -= z.max(axis=1, keepdims=True)
                np.exp(z, out=z)
                z /= z.sum(axis=1, keepdims=True)
                a = z
        return a

    def step(self, xb, yb, lr):
        """One SGD step on a mini-batch; returns the batch loss (before the step)."""
        np = self.np
        m = xb.shape[0]
        ar = self._ar.get(m)
        if ar is None:
            ar = self._ar[m] = np.arange(m)
        L = len(self.W)
        acts = [xb]
        a = xb
        for i in range(L - 1):
            z = a @ self.W[i]
            z += self.b[i]
            a = np.maximum(z, 0, out=z)
            acts.append(a)
        z = a @ self.W[-1]
        z += self.b[-1]
        z -= z.max(axis=1, keepdims=True)
        zy = z[ar, yb]  # shifted logit of the true class (a copy)
        np.exp(z, out=z)
        s = z.sum(axis=1)
        loss = float(np.mean(np.log(s) - zy))
        d = z
        d /= s[:, None]  # softmax probabilities
        d[ar, yb] -= 1.0  # dJ/dz for CE with softmax, summed ...
        d *= self.dtype.type(1.0 / m)  # ... and averaged over the batch
        gW, gb = [None] * L, [None] * L
        for i in range(L - 1, -1, -1):
            gW[i] = acts[i].T @ d
            gb[i] = d.sum(axis=0)
            if i > 0:
                d = d @ self.W[i].T
                d *= acts[i] > 0  # ReLU'
        lr = self.dtype.type(lr)
        for i in range(L):
            gW[i] *= lr
            self.W[i] -= gW[i]
            gb[i] *= lr
            self.b[i] -= gb[i]
        return loss

    def train_epoch(self, X, y, batch, lr):
        n = X.shape[0]
        tot = 0.0
        for s in range(0, n, batch):
            xb = X[s : s + batch]
            tot += self.step(xb, y[s : s + batch], lr) * xb.shape[0]
        return tot / n


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


def _blas_info():
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


def _np_sgemm(N, reps):
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


def _digits_arrays(path):
    import numpy as np

    d = np.load(path)
    return (
        np.ascontiguousarray(d["Xtr"], dtype=np.float32),
        d["ytr"].astype(np.int64),
        np.ascontiguousarray(d["Xte"], dtype=np.float32),
        d["yte"].astype(np.int64),
    )


class NumpyContender(Contender):
    name = "numpy"

    def __init__(self, threads, n_total):
        super().__init__(threads, n_total)
        from threadpoolctl import threadpool_limits

        self._limits = threadpool_limits(limits=threads)
        self.load_data()
        self.model = NumpyMLP(LAYERS, MODEL_SEED)
        self.snap = self.model.snapshot()

    def info(self):
        import numpy as np

        return {"numpy": np.__version__, "blas": _blas_info()}

    def reset(self):
        self.model.restore(self.snap)

    def train_run(self, batch, n):
        self.model.train_epoch(self.X[:n], self.y[:n], batch, LR)

    def infer_fn(self, m):
        x = self.X[:m]
        fw = self.model.forward
        return lambda: fw(x)

    def sgemm(self, N, reps):
        return _np_sgemm(N, reps)

    def digits(self, data, seed, lr, batch, max_epochs, target):
        import numpy as np

        Xtr, ytr, Xte, yte = _digits_arrays(data)
        t0 = time.perf_counter()
        model = NumpyMLP([Xtr.shape[1], 64, 10], seed)
        rng = np.random.default_rng(seed)
        acc, ep = 0.0, 0
        for ep in range(1, max_epochs + 1):
            p = rng.permutation(len(Xtr))
            model.train_epoch(Xtr[p], ytr[p], batch, lr)
            acc = float(np.mean(model.forward(Xte).argmax(axis=1) == yte))
            if acc >= target:
                break
        return {"seconds": time.perf_counter() - t0, "epochs": ep, "acc": acc, "reached": acc >= target}


class AsIsNumpyContender(NumpyContender):
    """NumPy with the parent's environment untouched (only for the sgemm comparison)."""

    name = "numpy-asis"


class Avx2NumpyContender(NumpyContender):
    """NumPy with OpenBLAS's AVX2 kernel (OPENBLAS_CORETYPE=Haswell, what OpenBLAS picks on AVX2-only
    CPUs such as Zen 3): the limit for fastmlp's AVX2 path measured on an AVX-512 CPU (sgemm only)."""

    name = "numpy-avx2"


class SklearnContender(Contender):
    name = "sklearn"
    supports_inference = False

    def __init__(self, threads, n_total):
        super().__init__(threads, n_total)
        import warnings

        from sklearn.exceptions import ConvergenceWarning
        from threadpoolctl import threadpool_limits

        warnings.filterwarnings("ignore", category=ConvergenceWarning)
        self._limits = threadpool_limits(limits=threads)
        self.load_data()

    def info(self):
        import sklearn

        return {"sklearn": sklearn.__version__, "blas": _blas_info()}

    def _clf(self, batch, seed, lr, shuffle, max_iter, hidden):
        from sklearn.neural_network import MLPClassifier

        return MLPClassifier(
            hidden_layer_sizes=hidden,
            activation="relu",
            solver="sgd",
            alpha=0.0,
            batch_size=batch,
            learning_rate="constant",
            learning_rate_init=lr,
            momentum=0.0,
            nesterovs_momentum=False,
            shuffle=shuffle,
            random_state=seed,
            max_iter=max_iter,
            tol=0.0,
            early_stopping=False,
            n_iter_no_change=10**9,
        )

    def train_run(self, batch, n):
        # fit() with max_iter=1: one epoch (includes sklearn's weight init, a few ms)
        clf = self._clf(batch, MODEL_SEED, LR, False, 1, tuple(LAYERS[1:-1]))
        clf.fit(self.X[:n], self.y[:n])
        assert clf.coefs_[0].dtype.name == "float32", clf.coefs_[0].dtype

    def digits(self, data, seed, lr, batch, max_epochs, target):
        import numpy as np

        Xtr, ytr, Xte, yte = _digits_arrays(data)
        t0 = time.perf_counter()
        clf = self._clf(batch, seed, lr, True, 1, (64,))
        classes = np.arange(10)
        acc, ep = 0.0, 0
        for ep in range(1, max_epochs + 1):
            clf.partial_fit(Xtr, ytr, classes=classes)  # one epoch, shuffled
            acc = float(np.mean(clf.predict(Xte) == yte))
            if acc >= target:
                break
        return {"seconds": time.perf_counter() - t0, "epochs": ep, "acc": acc, "reached": acc >= target}


class TorchContender(Contender):
    name = "torch"

    def __init__(self, threads, n_total):
        super().__init__(threads, n_total)
        import copy

        import torch

        self.torch = torch
        torch.set_num_threads(threads)
        self.load_data()
        self.Xt = torch.from_numpy(self.X)
        self.yt = torch.from_numpy(self.y)
        torch.manual_seed(MODEL_SEED)
        self.model = self._mlp(LAYERS)
        self.opt = torch.optim.SGD(self.model.parameters(), lr=LR, momentum=0.0)
        self.lossf = torch.nn.CrossEntropyLoss()
        self.snap = copy.deepcopy(self.model.state_dict())
        self._batches = {}

    def _mlp(self, sizes):
        nn = self.torch.nn
        mods = []
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            mods.append(nn.Linear(a, b))
            if i < len(sizes) - 2:
                mods.append(nn.ReLU())
        return nn.Sequential(*mods)

    def info(self):
        torch = self.torch
        d = {
            "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(),
            "torch_interop_threads": torch.get_num_interop_threads(),
        }
        try:
            d["cpu_capability"] = torch.backends.cpu.get_cpu_capability()
        except Exception:
            pass
        try:
            cfg = torch.__config__.show()
            d["blas"] = [
                ln.strip().lstrip("- ")
                for ln in cfg.splitlines()
                if "Math Kernel" in ln or "MKL-DNN" in ln or "OpenMP" in ln
            ]
        except Exception:
            pass
        return d

    def reset(self):
        self.model.load_state_dict(self.snap)

    def prepare_train(self, batch, n):
        key = (batch, n)
        if key not in self._batches:
            self._batches = {key: list(zip(self.Xt[:n].split(batch), self.yt[:n].split(batch)))}

    def train_run(self, batch, n):
        model, opt, lossf = self.model, self.opt, self.lossf
        total = 0.0
        for xb, yb in self._batches[(batch, n)]:
            opt.zero_grad()
            loss = lossf(model(xb), yb)
            loss.backward()
            opt.step()
            total += loss.item() * xb.shape[0]
        return total / n

    def infer_fn(self, m):
        torch = self.torch
        x = self.Xt[:m]
        model = self.model

        def f():
            with torch.inference_mode():
                return torch.softmax(model(x), dim=1)

        return f

    def sgemm(self, N, reps):
        torch = self.torch
        g = torch.Generator().manual_seed(1)
        A = torch.rand((N, N), generator=g, dtype=torch.float32)
        B = torch.rand((N, N), generator=g, dtype=torch.float32)
        C = torch.empty((N, N), dtype=torch.float32)
        torch.mm(A, B, out=C)
        out = []
        for _ in range(reps):
            t0 = time.perf_counter()
            torch.mm(A, B, out=C)
            out.append(2.0 * N**3 / (time.perf_counter() - t0) / 1e9)
        return out

    def digits(self, data, seed, lr, batch, max_epochs, target):
        torch = self.torch
        Xtr, ytr, Xte, yte = (torch.from_numpy(a) for a in _digits_arrays(data))
        t0 = time.perf_counter()
        torch.manual_seed(seed)
        model = self._mlp([Xtr.shape[1], 64, 10])
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.0)
        lossf = torch.nn.CrossEntropyLoss()
        g = torch.Generator().manual_seed(seed)
        n = Xtr.shape[0]
        acc, ep = 0.0, 0
        for ep in range(1, max_epochs + 1):
            perm = torch.randperm(n, generator=g)
            for i in range(0, n, batch):
                idx = perm[i : i + batch]
                opt.zero_grad()
                loss = lossf(model(Xtr[idx]), ytr[idx])
                loss.backward()
                opt.step()
            with torch.inference_mode():
                acc = float((model(Xte).argmax(dim=1) == yte).float().mean())
            if acc >= target:
                break
        return {"seconds": time.perf_counter() - t0, "epochs": ep, "acc": acc, "reached": acc >= target}


def import_fastmlp():
    try:
        import fastmlp

        return fastmlp
    except ImportError:
        sys.path.insert(0, os.path.join(REPO, "python"))
        import fastmlp  # noqa: F811

        return fastmlp


class FastmlpContender(Contender):
    name = "fastmlp"

    def __init__(self, threads, n_total):
        super().__init__(threads, n_total)
        fm = import_fastmlp()
        self.fm = fm
        if hasattr(fm, "set_num_threads"):
            fm.set_num_threads(threads)
        self.load_data()
        self.model = self._mlp(LAYERS, MODEL_SEED)
        self.snap = [(l.weights.copy(), l.bias.copy()) for l in self.model.layers]

    def _mlp(self, sizes, seed):
        return self.make_mlp(self.fm, sizes, seed)

    @staticmethod
    def make_mlp(fm, sizes, seed):
        layers = []
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(fm.Dense(a, b, "relu" if i < len(sizes) - 2 else "softmax"))
        # plain SGD as every other contender (the model's default optimizer is Adam since issue 13)
        return fm.Sequential(layers, loss="categorical_crossentropy", dtype="float32", seed=seed, optimizer="sgd")

    def info(self):
        fm = self.fm
        d = {
            "fastmlp": getattr(fm, "__version__", "?"),
            "fastmlp_file": getattr(fm, "__file__", "?"),
            "blas": _blas_info(),
        }
        if hasattr(fm, "get_num_threads"):
            d["fastmlp_threads"] = fm.get_num_threads()
        if hasattr(fm, "build_info"):
            try:
                bi = fm.build_info()
                json.dumps(bi)
                d["build_info"] = bi
            except Exception:
                d["build_info"] = repr(fm.build_info())
        return d

    def reset(self):
        for layer, (w, b) in zip(self.model.layers, self.snap):
            layer.weights = w
            layer.bias = b

    def train_run(self, batch, n):
        self.model.fit(
            self.X[:n], self.y[:n], epochs=1, batch_size=batch, learning_rate=LR, tol=0.0, shuffle=False, seed=0
        )

    def infer_fn(self, m):
        x = self.X[:m]
        fw = self.model.forward
        return lambda: fw(x)

    def latency_breakdown(self, calls):
        """Batch-1 forward split into its layers: model.forward (all), engine.forward (binding + C++),
        the same binding on a 784-1 model (binding, validation and output array: the floor), model._X."""
        x = self.X[:1]
        tiny = self.fm.Sequential([self.fm.Dense(LAYERS[0], 1, "linear")], loss="mse", seed=0)
        fns = {
            "model.forward": lambda: self.model.forward(x),
            "engine.forward": lambda: self.model._engine.forward(x),
            "binding floor (784-1 model)": lambda: tiny._engine.forward(x),
            "model._X": lambda: self.model._X(x),
        }
        out = {}
        for k, f in fns.items():
            for _ in range(200):
                f()
            ts = []
            for _ in range(7):
                t0 = time.perf_counter_ns()
                for _ in range(calls):
                    f()
                ts.append((time.perf_counter_ns() - t0) / calls / 1e3)
            out[k] = statistics.median(ts)
        return {"us": out}

    def digits(self, data, seed, lr, batch, max_epochs, target):
        import numpy as np

        Xtr, ytr, Xte, yte = _digits_arrays(data)
        t0 = time.perf_counter()
        model = self._mlp([Xtr.shape[1], 64, 10], seed)
        acc, ep = 0.0, 0
        for ep in range(1, max_epochs + 1):
            model.fit(
                Xtr, ytr, epochs=1, batch_size=batch, learning_rate=lr, tol=0.0, shuffle=True, seed=seed * 100003 + ep
            )
            acc = float(np.mean(model.predict(Xte) == yte))
            if acc >= target:
                break
        return {"seconds": time.perf_counter() - t0, "epochs": ep, "acc": acc, "reached": acc >= target}


class JaxContender(Contender):
    """JAX on the CPU: the same MLP as NumpyMLP (same initial weights), softmax-CE, plain SGD.

    "jax": one jax.jit-compiled step (value_and_grad + update, parameters donated) called from a
    Python loop over pre-made device batches; the losses stay on the device, one sync at the end.
    Inference: the jitted forward (softmax) on a device array, block_until_ready.
    """

    name = "jax"
    supports_digits = False

    def __init__(self, threads, n_total):
        super().__init__(threads, n_total)
        if threads == 1:  # XLA's CPU thread pools (pinning to one core is what really limits it)
            os.environ["XLA_FLAGS"] = (
                os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
            )
        import jax
        import jax.numpy as jnp

        jax.config.update("jax_platforms", "cpu")
        self.jax, self.jnp = jax, jnp
        self.load_data()
        ref = NumpyMLP(LAYERS, MODEL_SEED)
        self.snap = list(zip(ref.W, ref.b))
        self.params = None
        self.reset()

        def logits(params, x):
            a = x
            for w, b in params[:-1]:
                a = jax.nn.relu(a @ w + b)
            w, b = params[-1]
            return a @ w + b

        def loss_fn(params, xb, yb):
            logp = jax.nn.log_softmax(logits(params, xb))
            return -jnp.mean(jnp.take_along_axis(logp, yb[:, None], axis=1))

        def step(params, xb, yb):
            loss, g = jax.value_and_grad(loss_fn)(params, xb, yb)
            return jax.tree_util.tree_map(lambda p, d: p - LR * d, params, g), loss

        def epoch(params, Xb, Yb):  # whole epoch in one XLA program
            return jax.lax.scan(lambda p, xy: step(p, xy[0], xy[1]), params, (Xb, Yb))

        self._step = jax.jit(step, donate_argnums=0)
        self._epoch = jax.jit(epoch, donate_argnums=0)
        self._fwd = jax.jit(lambda params, x: jax.nn.softmax(logits(params, x), axis=1))
        self._prepared = {}

    def info(self):
        import jax
        import jaxlib

        return {
            "jax": jax.__version__,
            "jaxlib": jaxlib.__version__,
            "devices": [str(d) for d in jax.devices()],
            "xla_flags": os.environ.get("XLA_FLAGS", ""),
        }

    def reset(self):
        # Fresh device buffers (copies: donation may reuse them in place).
        self.params = tuple((self.jax.device_put(w.copy()), self.jax.device_put(b.copy())) for w, b in self.snap)

    def _data(self, batch, n):
        import numpy as np

        Xb = self.jax.device_put(self.X[:n].reshape(n // batch, batch, LAYERS[0]))
        Yb = self.jax.device_put(self.y[:n].astype(np.int32).reshape(n // batch, batch))
        return Xb, Yb

    def prepare_train(self, batch, n):
        # Data transfer and compilation happen here, outside the timer.
        key = (batch, n)
        if key not in self._prepared:
            Xb, Yb = self._data(batch, n)
            warm = tuple((w + 0, b + 0) for w, b in self.params)
            self.jax.block_until_ready(self._step(warm, Xb[0], Yb[0]))
            self._prepared = {key: ([(Xb[i], Yb[i]) for i in range(n // batch)], None)}

    def train_run(self, batch, n):
        batches, _ = self._prepared[(batch, n)]
        p, step, losses = self.params, self._step, []
        for xb, yb in batches:
            p, loss = step(p, xb, yb)
            losses.append(loss)
        self.jax.block_until_ready((p, losses))
        self.params = p

    def infer_fn(self, m):
        x = self.jax.device_put(self.X[:m])
        fwd, params = self._fwd, self.params
        fwd(params, x).block_until_ready()
        return lambda: fwd(params, x).block_until_ready()


class JaxScanContender(JaxContender):
    """JAX, the whole epoch as one jitted lax.scan over the batches (no Python per step)."""

    name = "jax-scan"
    supports_inference = False

    def prepare_train(self, batch, n):
        key = (batch, n)
        if key not in self._prepared:
            Xb, Yb = self._data(batch, n)
            warm = tuple((w + 0, b + 0) for w, b in self.params)
            compiled = self._epoch.lower(warm, Xb, Yb).compile()
            self._prepared = {key: ((Xb, Yb), compiled)}

    def train_run(self, batch, n):
        (Xb, Yb), compiled = self._prepared[(batch, n)]
        p, losses = compiled(self.params, Xb, Yb)
        self.jax.block_until_ready((p, losses))
        self.params = p


class OrtContender(Contender):
    """onnxruntime inference of fastmlp's ONNX export of the same model (same weights as fastmlp),
    intra_op_num_threads = the thread count, sequential execution, all graph optimisations."""

    name = "onnxruntime"
    supports_train = False
    supports_digits = False

    def __init__(self, threads, n_total):
        super().__init__(threads, n_total)
        import onnxruntime as ort

        import fastmlp.onnx

        self.ort = ort
        self.load_data()
        model = FastmlpContender.make_mlp(import_fastmlp(), LAYERS, MODEL_SEED)
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.sess = ort.InferenceSession(
            fastmlp.onnx.to_onnx(model).SerializeToString(), so, providers=["CPUExecutionProvider"]
        )
        self.inp = self.sess.get_inputs()[0].name
        self.out = [self.sess.get_outputs()[0].name]

    def info(self):
        return {"onnxruntime": self.ort.__version__, "providers": self.sess.get_providers()}

    def infer_fn(self, m):
        x = self.X[:m]
        run, feed, out = self.sess.run, {self.inp: x}, self.out
        return lambda: run(out, feed)


WORKER_CLASSES = {
    "numpy": NumpyContender,
    "numpy-asis": AsIsNumpyContender,
    "numpy-avx2": Avx2NumpyContender,
    "sklearn": SklearnContender,
    "torch": TorchContender,
    "jax": JaxContender,
    "jax-scan": JaxScanContender,
    "onnxruntime": OrtContender,
    **{v: FastmlpContender for v in FASTMLP_VARIANTS},
}


def worker_main(name, threads, n_total, pin):
    if pin >= 0:  # before any library starts its thread pool
        os.sched_setaffinity(0, {pin})
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # anything the libraries print goes to stderr
    sys.stdout = sys.stderr

    def send(obj):
        proto.write(json.dumps(obj) + "\n")
        proto.flush()

    try:
        c = WORKER_CLASSES[name](threads, n_total)
        info = c.info()
        info.update(
            {
                "python": platform.python_version(),
                "pid": os.getpid(),
                "affinity": sorted(os.sched_getaffinity(0)),
                "env": {
                    k: os.environ.get(k)
                    for k in REMOVED_ENV
                    + ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "FASTMLP_ARCH")
                },
            }
        )
        send({"ok": True, "info": info})
    except BaseException as e:
        send({"ok": False, "error": "%s: %s" % (type(e).__name__, e), "trace": traceback.format_exc()})
        return
    for line in sys.stdin:
        cmd = json.loads(line)
        op = cmd.pop("op")
        if op == "quit":
            break
        try:
            if op == "calib_train":
                r = c.calib_train(**cmd)
            elif op == "train":
                r = {"seconds": c.timed_train(**cmd)}
            elif op == "calib_latency":
                r = c.calib_latency(**cmd)
            elif op == "latency":
                r = c.latency(**cmd)
            elif op == "calib_throughput":
                r = c.calib_throughput(**cmd)
            elif op == "throughput":
                r = c.throughput(**cmd)
            elif op == "sgemm":
                r = {"gflops": c.sgemm(**cmd)}
            elif op == "digits":
                r = c.digits(**cmd)
            elif op == "latency_breakdown":
                r = c.latency_breakdown(**cmd)
            else:
                raise ValueError("unknown op %r" % op)
            r["ok"] = True
        except BaseException as e:
            r = {"ok": False, "error": "%s: %s" % (type(e).__name__, e), "trace": traceback.format_exc()}
        send(r)


# ======================================================================================
# Parent side
# ======================================================================================
class Worker:
    def __init__(self, name, threads, n_total, asis_env=False, timeout=900, pin=-1):
        self.name, self.threads, self.timeout = name, threads, timeout
        env = dict(os.environ)
        if not asis_env:
            for k in REMOVED_ENV:
                env.pop(k, None)
        env.pop("FASTMLP_ARCH", None)
        if name == "numpy-avx2":
            env["OPENBLAS_CORETYPE"] = AVX2_CORETYPE
        if name.startswith("fastmlp-"):
            env["FASTMLP_ARCH"] = name.split("-", 1)[1]
        for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env[k] = str(threads)
        env["PYTHONUNBUFFERED"] = "1"
        self.proc = subprocess.Popen(
            [
                sys.executable,
                os.path.abspath(__file__),
                "--worker",
                name,
                "--worker-threads",
                str(threads),
                "--worker-n",
                str(n_total),
                "--worker-pin",
                str(pin),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            text=True,
            bufsize=1,
        )
        self.info = None
        self.error = None

    def _read(self):
        r, _, _ = select.select([self.proc.stdout], [], [], self.timeout)
        if not r:
            raise RuntimeError("worker %s/%d timed out" % (self.name, self.threads))
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("worker %s/%d died (exit %s)" % (self.name, self.threads, self.proc.poll()))
        return json.loads(line)

    def start(self):
        try:
            msg = self._read()
        except Exception as e:
            msg = {"ok": False, "error": str(e)}
        if msg.get("ok"):
            self.info = msg["info"]
        else:
            self.error = msg.get("error", "?")
            if msg.get("trace"):
                sys.stderr.write("[%s/%d] %s\n" % (self.name, self.threads, msg["trace"]))
        return self.error is None

    def call(self, op, **kw):
        if self.error:
            return {"ok": False, "error": self.error}
        kw["op"] = op
        try:
            self.proc.stdin.write(json.dumps(kw) + "\n")
            self.proc.stdin.flush()
            msg = self._read()
        except Exception as e:
            self.error = str(e)
            return {"ok": False, "error": self.error}
        if not msg.get("ok") and msg.get("trace"):
            sys.stderr.write("[%s/%d] %s\n" % (self.name, self.threads, msg["trace"]))
        return msg

    def close(self):
        try:
            if self.proc.poll() is None:
                self.proc.stdin.write(json.dumps({"op": "quit"}) + "\n")
                self.proc.stdin.flush()
                self.proc.wait(timeout=30)
        except Exception:
            if self.proc.poll() is None:
                self.proc.kill()


def log(msg):
    sys.stderr.write(msg + "\n")
    sys.stderr.flush()


def stats(xs):
    xs = [x for x in xs if x is not None]
    if not xs:
        return None
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs), "n": len(xs)}


def fmt_num(v, unit):
    if v is None:
        return "—"
    if unit == "us":
        return "%.1f" % v if v < 1000 else "%.0f" % v
    if v >= 1e6:
        return "%.2fM" % (v / 1e6)
    if v >= 1e4:
        return "%.1fk" % (v / 1e3)
    if v >= 1e3:
        return "%.2fk" % (v / 1e3)
    return "%.0f" % v


def fmt_stat(s, unit):
    if s is None:
        return "—"
    if s["n"] == 1:
        return fmt_num(s["median"], unit)
    return "%s [%s–%s]" % (fmt_num(s["median"], unit), fmt_num(s["min"], unit), fmt_num(s["max"], unit))


def cpu_level():
    """The highest x86-64 microarchitecture level (v2/v3/v4) this CPU's flags allow."""
    try:
        flags = set(next(ln for ln in open("/proc/cpuinfo") if ln.startswith("flags")).split(":", 1)[1].split())
    except Exception:
        return "?"
    v2 = {"cx16", "lahf_lm", "popcnt", "sse4_1", "sse4_2", "ssse3"}
    v3 = {"avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "abm", "movbe", "xsave"}
    v4 = {"avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"}
    level = "x86-64"
    for name, need in (("x86-64-v2", v2), ("x86-64-v3", v3), ("x86-64-v4", v4)):
        if not need <= flags:
            break
        level = name
    return level


def lscpu_info():
    keep = (
        "Model name",
        "Vendor ID",
        "CPU family",
        "Model:",
        "CPU(s):",
        "Thread(s) per core",
        "Core(s) per socket",
        "L1d cache",
        "L2 cache",
        "L3 cache",
        "Hypervisor vendor",
        "CPU max MHz",
    )
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=20).stdout
    except Exception as e:
        return ["lscpu failed: %r" % e], "?"
    lines, model = [], "?"
    for ln in out.splitlines():
        s = ln.strip()
        if s.startswith("Model name"):
            model = s.split(":", 1)[1].strip()
        if any(s.startswith(k) for k in keep):
            lines.append(" ".join(s.split()))
    flags = [ln for ln in out.splitlines() if ln.strip().startswith("Flags")]
    if flags:
        f = flags[0].split(":", 1)[1].split()
        simd = [
            x
            for x in f
            if x in ("avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16", "amx_tile")
        ]
        lines.append("SIMD flags: " + " ".join(simd))
    return lines, model


def prepare_digits(tmpdir):
    import numpy as np
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X / 16.0, y, test_size=0.25, random_state=0)
    path = os.path.join(tmpdir, "digits.npz")
    np.savez(
        path, Xtr=Xtr.astype(np.float32), Xte=Xte.astype(np.float32), ytr=ytr.astype(np.int64), yte=yte.astype(np.int64)
    )
    return path, (len(Xtr), len(Xte))


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__.split("\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    p.add_argument("--quick", action="store_true", help="tiny sizes, 1 rep (smoke test)")
    p.add_argument("--reps", type=int, default=None, help="repetitions (default 7, --quick 1)")
    p.add_argument(
        "--threads",
        type=int,
        nargs="+",
        default=[1, 2],
        help="thread counts: all rows at the first one, batch-512 training also at the others",
    )
    p.add_argument("--out", default=os.path.join(HERE, "RESULTS.md"), help="markdown report path")
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


def build_rows(a):
    t0 = a.threads[0]
    rows = []
    for b in a.batches:
        rows.append({"kind": "train", "batch": b, "threads": t0})
    for t in a.threads[1:]:
        for b in a.batches2:
            rows.append({"kind": "train", "batch": b, "threads": t})
    for t in a.threads:  # inference splits even one sample's products across threads
        rows.append({"kind": "latency", "batch": 1, "threads": t})
    rows.append({"kind": "throughput", "batch": a.infer_batch, "threads": t0})
    for r in rows:
        if r["kind"] == "train":
            r["label"] = "train b=%d, %dT (samples/s)" % (r["batch"], r["threads"])
            r["unit"] = "samples/s"
        elif r["kind"] == "latency":
            r["label"] = "infer latency 1 sample, %dT (µs)" % r["threads"]
            r["unit"] = "us"
        else:
            r["label"] = "infer b=%d, %dT (samples/s)" % (r["batch"], r["threads"])
            r["unit"] = "samples/s"
        r["key"] = "%s-%d-%d" % (r["kind"], r["batch"], r["threads"])
    return rows


def row_contenders(row, contenders):
    cls = WORKER_CLASSES
    if row["kind"] == "train":
        cs = [c for c in contenders if cls[c].supports_train]
    else:
        cs = [c for c in contenders if cls[c].supports_inference]
    if row["threads"] > 1:  # thread scaling: the compiled contenders only
        cs = [c for c in cs if c not in ("numpy", "sklearn")]
    return cs


def run(a):
    started = datetime.datetime.now(datetime.timezone.utc)
    rows = build_rows(a)
    threads_needed = sorted(set(a.threads))
    removed = {k: os.environ[k] for k in REMOVED_ENV if k in os.environ}

    # ---- start workers (sequentially, to keep start-up from competing) -------------
    workers = {}
    for t in threads_needed:
        for c in a.contenders:
            if c != "numpy" and not any(c in row_contenders(r, a.contenders) for r in rows if r["threads"] == t):
                continue
            w = Worker(c, t, a.n_total, pin=a.pin_core if t == 1 else -1)
            ok = w.start()
            log("worker %-8s %dT: %s" % (c, t, "ready" if ok else "FAILED: " + str(w.error)))
            workers[(c, t)] = w
    # fastmlp's AVX2 build on an AVX-512 CPU is held against OpenBLAS's AVX2 kernel, as it would be on
    # an AVX2-only CPU (there the plain NumPy worker already runs that kernel).
    if any(c in AVX2_VARIANTS for c in a.contenders) and cpu_level() == "x86-64-v4":
        for t in threads_needed:
            w = Worker("numpy-avx2", t, a.n_total, pin=a.pin_core if t == 1 else -1)
            log("worker numpy-avx2 %dT: %s" % (t, "ready" if w.start() else "FAILED: " + str(w.error)))
            workers[("numpy-avx2", t)] = w
    asis = None
    if removed:
        asis = Worker("numpy-asis", 1, 0, asis_env=True, pin=a.pin_core)
        log("worker numpy-asis 1T (env as-is %s): %s" % (removed, "ready" if asis.start() else asis.error))

    results = {"rows": {}, "sgemm": {}, "digits": {}, "calib": {}}
    try:
        # ---- sgemm peak ----------------------------------------------------------
        log("sgemm peak, N=%d ..." % a.sgemm_n)
        sg_samples = {}
        for t in threads_needed:
            for c in ("numpy", "numpy-avx2", "torch"):
                w = workers.get((c, t))
                if w is None:
                    continue
                time.sleep(a.gap)
                r = w.call("sgemm", N=a.sgemm_n, reps=a.sgemm_reps)
                sg_samples["%s-%d" % (c, t)] = list(r.get("gflops", [])) if r.get("ok") else []
                results["sgemm"]["%s-%d" % (c, t)] = stats(sg_samples["%s-%d" % (c, t)])
        if asis is not None:
            r = asis.call("sgemm", N=a.sgemm_n, reps=a.sgemm_reps)
            results["sgemm"]["numpy-asis-1"] = stats(r.get("gflops", [])) if r.get("ok") else None
        for k, v in results["sgemm"].items():
            log(
                "  %-14s %s GFLOP/s" % (k, "—" if v is None else "%.1f [%.1f–%.1f]" % (v["median"], v["min"], v["max"]))
            )

        # ---- calibration / warm-up -------------------------------------------------
        log("calibrating (also warm-up) ...")
        calib = results["calib"]
        for row in rows:
            for c in row_contenders(row, a.contenders):
                w = workers.get((c, row["threads"]))
                if w is None or w.error:
                    continue
                if row["kind"] == "train":
                    cap = a.batch1_samples if row["batch"] == 1 else a.n_total
                    r = w.call("calib_train", batch=row["batch"], cap=cap, target=a.target_time)
                elif row["kind"] == "latency":
                    r = w.call("calib_latency", target=a.target_time, min_calls=a.min_latency_calls)
                else:
                    r = w.call("calib_throughput", m=row["batch"], target=a.target_time)
                calib[(row["key"], c)] = r if r.get("ok") else None
                if not r.get("ok"):
                    log("  %s %s: calibration failed: %s" % (row["key"], c, r.get("error")))

        # ---- repetitions -------------------------------------------------------------
        samples = {(row["key"], c): [] for row in rows for c in row_contenders(row, a.contenders)}
        for rep in range(a.reps):
            log("rep %d/%d" % (rep + 1, a.reps))
            # The limit is re-measured in every repetition, among the rows, so that it sees the same
            # machine as they do (a loaded machine at the start would otherwise flatter the ratios).
            for t in threads_needed:
                for c in ("numpy", "numpy-avx2"):
                    w = workers.get((c, t))
                    if w is not None and not w.error:
                        time.sleep(a.gap)
                        r = w.call("sgemm", N=a.sgemm_n, reps=1)
                        if r.get("ok"):
                            k = "%s-%d" % (c, t)
                            sg_samples.setdefault(k, []).extend(r["gflops"])
                            results["sgemm"][k] = stats(sg_samples[k])
            for row in rows:
                cs = row_contenders(row, a.contenders)
                k = rep % len(cs)
                order = cs[k:] + cs[:k]
                line = []
                for c in order:
                    cal = calib.get((row["key"], c))
                    w = workers.get((c, row["threads"]))
                    if cal is None or w is None:
                        continue
                    if a.gap:
                        time.sleep(a.gap)
                    if row["kind"] == "train":
                        r = w.call("train", batch=row["batch"], n=cal["n"])
                        v = cal["n"] / r["seconds"] if r.get("ok") else None
                    elif row["kind"] == "latency":
                        r = w.call("latency", calls=cal["calls"])
                        v = r["seconds"] * 1e6 if r.get("ok") else None
                    else:
                        r = w.call("throughput", m=row["batch"], iters=cal["iters"])
                        v = row["batch"] * cal["iters"] / r["seconds"] if r.get("ok") else None
                    if v is None:
                        log("  %s %s failed: %s" % (row["key"], c, r.get("error")))
                    samples[(row["key"], c)].append(v)
                    line.append("%s %s" % (c, fmt_num(v, row["unit"])))
                log("  %-34s %s" % (row["label"], ", ".join(line)))
        for (key, c), xs in samples.items():
            results["rows"].setdefault(key, {})[c] = {"stats": stats(xs), "values": xs}

        # ---- fastmlp's batch-1 latency, layer by layer ----------------------------------
        for f in fm_variants(a.contenders):
            w = workers.get((f, a.threads[0]))
            if w is not None and not w.error:
                r = w.call("latency_breakdown", calls=200 if a.quick else 2000)
                if r.get("ok"):
                    results.setdefault("breakdown", {})[f] = r["us"]

        # ---- digits -----------------------------------------------------------------
        if not a.no_digits:
            with tempfile.TemporaryDirectory() as td:
                path, sizes = prepare_digits(td)
                results["digits_sizes"] = sizes
                t = a.threads[0]
                dig = {c: [] for c in a.contenders if (c, t) in workers and WORKER_CLASSES[c].supports_digits}
                log(
                    "digits: %d train / %d test, lr=%g, batch=%d, target %.3f, max %d epochs, %d seeds"
                    % (
                        sizes[0],
                        sizes[1],
                        a.digits_lr,
                        a.digits_batch,
                        a.digits_target,
                        a.digits_max_epochs,
                        a.digits_seeds,
                    )
                )
                for seed in range(a.digits_seeds):
                    cs = list(dig)
                    k = seed % max(1, len(cs))
                    line = []
                    for c in cs[k:] + cs[:k]:
                        time.sleep(a.gap)
                        r = workers[(c, t)].call(
                            "digits",
                            data=path,
                            seed=seed,
                            lr=a.digits_lr,
                            batch=a.digits_batch,
                            max_epochs=a.digits_max_epochs,
                            target=a.digits_target,
                        )
                        if r.get("ok"):
                            dig[c].append(r)
                            line.append("%s %.3fs/%dep/%.4f" % (c, r["seconds"], r["epochs"], r["acc"]))
                        else:
                            line.append("%s failed" % c)
                    log("  seed %d: %s" % (seed, ", ".join(line)))
                results["digits"] = dig
        for key, w in workers.items():
            results.setdefault("info", {})["%s-%d" % key] = w.info if w.info else {"error": w.error}
        if asis is not None:
            results.setdefault("info", {})["numpy-asis-1"] = asis.info if asis.info else {"error": asis.error}
    finally:
        for w in list(workers.values()) + ([asis] if asis else []):
            w.close()
    results["started"] = started
    results["finished"] = datetime.datetime.now(datetime.timezone.utc)
    results["removed_env"] = removed
    results["rows_def"] = rows
    results["argv"] = sys.argv[1:]  # --from-json re-renders the report with the run's own options
    results["loadavg"] = " ".join("%.2f" % x for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    return results


# ---------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------
def peak_for(res, threads, variant="fastmlp"):
    """The limit: OpenBLAS's sgemm (NumPy worker) at this thread count, same run (its stats: median,
    min, max); for the AVX2 build on an AVX-512 CPU, OpenBLAS's AVX2 kernel (the numpy-avx2 worker)."""
    s = res["sgemm"].get("numpy-avx2-%d" % threads) if variant in AVX2_VARIANTS else None
    return s or res["sgemm"].get("numpy-%d" % threads)


def pct_of_limit(row, st, pk):
    """'% OpenBLAS': the medians' ratio, then best against best (fastmlp's fastest timing over the
    limit's fastest): a busy host only ever slows a timing down, so the best ones are the closest to
    a quiet machine, and a limit whose median a busy minute pulled down cannot flatter the ratio."""
    if not pk or not st:
        return "—"
    best = st["min"] if row["unit"] == "us" else st["max"]
    return "%.0f%% (best %.0f%%)" % (
        100 * gflops(row, st["median"]) / pk["median"],
        100 * gflops(row, best) / pk["max"],
    )


def fm_variants(cs):
    return [c for c in cs if c in FASTMLP_VARIANTS]


def gflops(row, v):
    if row["kind"] == "train":
        return v * train_flops() / 1e9
    if row["kind"] == "latency":
        return forward_flops() / (v * 1e-6) / 1e9
    return v * forward_flops() / 1e9


def paired_ratios(d, f, peer, lat):
    """fastmlp's speed over the peer's within each repetition (the two were timed seconds apart, so a
    slow minute of the host hits both): shows how far the ratio of medians can be trusted."""
    xs, ys = (d.get(f) or {}).get("values") or [], (d.get(peer) or {}).get("values") or []
    return [(y / x if lat else x / y) for x, y in zip(xs, ys) if x and y]


def main_table(res, a):
    cs = list(a.contenders)
    fms = fm_variants(cs)
    hdr = ["Row"] + [LABEL[c] for c in cs]
    for f in fms:
        hdr += ["%s vs best peer" % LABEL[f], "%s GFLOP/s" % LABEL[f], "%s %% OpenBLAS" % LABEL[f]]
    lines = ["| " + " | ".join(hdr) + " |", "|" + "|".join(["---"] + ["---:"] * (len(hdr) - 1)) + "|"]
    for row in res["rows_def"]:
        d = res["rows"].get(row["key"], {})
        here = row_contenders(row, cs)
        cells = [row["label"]]
        med = {}
        for c in cs:
            st = (d.get(c) or {}).get("stats")
            cells.append(fmt_stat(st, row["unit"]) if c in here else "n/a")
            med[c] = st["median"] if st and c in here else None
        lat = row["unit"] == "us"
        peers = [c for c in here if c not in FASTMLP_VARIANTS and med.get(c)]
        best = (min if lat else max)(peers, key=lambda c: med[c]) if peers else None
        for f in fms:
            pk = peak_for(res, row["threads"], f)
            fm = med.get(f)
            if not fm:
                cells += ["—", "—", "—"]
                continue
            if best:
                r = med[best] / fm if lat else fm / med[best]
                pr = paired_ratios(d, f, best, lat)
                paired = "; per repetition %.2f× [%.2f–%.2f]" % (statistics.median(pr), min(pr), max(pr)) if pr else ""
                cells.append("%.2f× (%s%s)" % (r, LABEL[best], paired))
            else:
                cells.append("—")
            cells += ["%.1f" % gflops(row, fm), pct_of_limit(row, (d.get(f) or {}).get("stats"), pk)]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def threads_table(res, a):
    """fastmlp's training at each extra thread count against 1 thread, per batch size."""
    fms = fm_variants(a.contenders)
    t1 = a.threads[0]
    lines = [
        "| fastmlp | batch | %dT samples/s | threads | samples/s | ratio of medians | worst case (min / max) |" % t1,
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for f in fms:
        for t in a.threads[1:]:
            for b in a.batches2:
                s1 = ((res["rows"].get("train-%d-%d" % (b, t1)) or {}).get(f) or {}).get("stats")
                s2 = ((res["rows"].get("train-%d-%d" % (b, t)) or {}).get(f) or {}).get("stats")
                if not s1 or not s2:
                    continue
                lines.append(
                    "| %s | %d | %s | %d | %s | %.2f× | %.2f× |"
                    % (
                        LABEL[f],
                        b,
                        fmt_stat(s1, "samples/s"),
                        t,
                        fmt_stat(s2, "samples/s"),
                        s2["median"] / s1["median"],
                        s2["min"] / s1["max"],
                    )
                )
    return lines


def sgemm_table(res, a):
    lines = [
        "| threads | NumPy sgemm (OpenBLAS, cleaned env) | NumPy sgemm, OpenBLAS AVX2 kernel (%s) | torch.mm (MKL) "
        "| NumPy sgemm, env as-is |" % AVX2_CORETYPE,
        "|---:|---:|---:|---:|---:|",
    ]

    def f(k):
        s = res["sgemm"].get(k)
        return "—" if not s else ("%.1f [%.1f–%.1f]" % (s["median"], s["min"], s["max"]))

    for t in sorted(set(a.threads)):
        asis = f("numpy-asis-1") if t == 1 and res["removed_env"] else "—"
        lines.append(
            "| %d | %s | %s | %s | %s |" % (t, f("numpy-%d" % t), f("numpy-avx2-%d" % t), f("torch-%d" % t), asis)
        )
    return lines


def digits_table(res, a):
    lines = [
        "| contender | reached %.0f%% | time to %.0f%% (s), median [min–max] | epochs, median [min–max] "
        "| ms/epoch (median) | final test acc (median) |" % (100 * a.digits_target, 100 * a.digits_target),
        "|---|---:|---:|---:|---:|---:|",
    ]
    for c, runs in res["digits"].items():
        if not runs:
            lines.append("| %s | — | — | — | — | — |" % LABEL[c])
            continue
        ok = [r for r in runs if r["reached"]]
        ts = stats([r["seconds"] for r in ok])
        ep = stats([r["epochs"] for r in ok])
        tt = (
            "—"
            if not ts
            else ("%.3f [%.3f–%.3f]" % (ts["median"], ts["min"], ts["max"]) if ts["n"] > 1 else "%.3f" % ts["median"])
        )
        ee = (
            "—"
            if not ep
            else ("%g [%g–%g]" % (ep["median"], ep["min"], ep["max"]) if ep["n"] > 1 else "%g" % ep["median"])
        )
        mspe = statistics.median([1000 * r["seconds"] / r["epochs"] for r in runs])
        acc = statistics.median([r["acc"] for r in runs])
        lines.append("| %s | %d/%d | %s | %s | %.2f | %.4f |" % (LABEL[c], len(ok), len(runs), tt, ee, mspe, acc))
    return lines


def details_lines(res, a):
    out = ["| row | " + " | ".join(LABEL[c] for c in a.contenders) + " |", "|---|" + "---:|" * len(a.contenders)]
    for row in res["rows_def"]:
        cells = []
        for c in a.contenders:
            cal = res["calib"].get((row["key"], c))
            if not cal:
                cells.append("—")
            elif row["kind"] == "train":
                cells.append("%d samples" % cal["n"])
            elif row["kind"] == "latency":
                cells.append("%d calls" % cal["calls"])
            else:
                cells.append("%d × %d" % (cal["iters"], row["batch"]))
        out.append("| %s | %s |" % (row["key"], " | ".join(cells)))
    return out


def write_reports(text: str, out, json_path, data) -> None:
    """Prints the markdown report and writes it to `out`, and `data` as JSON to `json_path` (each if given)."""
    print(text)
    if out:
        os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
        with open(out, "w") as f:
            f.write(text)
        log("wrote %s" % out)
    if json_path:
        with open(json_path, "w") as f:
            json.dump(data, f, indent=1)
        log("wrote %s" % json_path)


def run_lines(res) -> list:
    """The report's date and command lines (res["started"], res["finished"]: datetimes; res["argv"]: the
    run's options)."""
    took = (res["finished"] - res["started"]).total_seconds()
    argv = ["python", os.path.relpath(sys.argv[0], REPO)] + res["argv"]
    return [
        "- Date: %s (UTC), run took %.0f s" % (res["started"].strftime("%Y-%m-%d %H:%M"), took),
        "- Command: `%s`" % " ".join(argv),
    ]


def versions(res):
    info = res.get("info", {})
    v = {"python": platform.python_version()}
    for d in info.values():
        for k in ("numpy", "torch", "jax", "jaxlib", "onnxruntime", "sklearn", "fastmlp"):
            if k in d and k not in v:
                v[k] = d[k]
    try:
        import threadpoolctl

        v["threadpoolctl"] = threadpoolctl.__version__
    except Exception:
        pass
    return v


def numpy_blas_arch(res, key):
    for d in (res.get("info", {}).get(key) or {}).get("blas", []) or []:
        if d.get("internal_api") == "openblas" and "numpy" in (d.get("filepath") or ""):
            return "%s %s (arch %s, %s threads)" % (
                d.get("prefix"),
                d.get("version"),
                d.get("architecture"),
                d.get("num_threads"),
            )
    return "?"


def report(res, a):
    cpu_lines, cpu_model = lscpu_info()
    v = versions(res)
    t0 = a.threads[0]
    tf, ff = train_flops(), forward_flops()
    dx = tf - 2 * ff
    L = ["# fastmlp benchmark results", ""] + run_lines(res)
    L.append("- Versions: " + ", ".join("%s %s" % kv for kv in v.items()))
    L.append("- CPU: %s; %s" % (cpu_model, "; ".join(cpu_lines)))
    L.append(
        "- Host: %s, %d logical CPUs visible; load average at end %s"
        % (
            platform.platform(),
            os.cpu_count() or 0,
            res.get("loadavg", "?"),
        )
    )
    L.append(
        "- Threads: rows at %dT unless stated; thread counts %s. Mode: %s, %d repetitions, "
        "~%.2f s per timing, %.1f s pause between timings."
        % (
            t0,
            " ".join(map(str, a.threads)),
            "QUICK (smoke test, not meaningful)" if a.quick else "full",
            a.reps,
            a.target_time,
            a.gap,
        )
    )
    info = res.get("info", {})
    L.append(
        "- ISA: x86-64 level of this CPU %s (lscpu flags above); 1-thread workers pinned to core %s "
        "(worker affinity: %s)"
        % (
            cpu_level(),
            a.pin_core if a.pin_core >= 0 else "none",
            ", ".join(
                "%s %s" % (k, d.get("affinity")) for k, d in info.items() if k.endswith("-1") and "affinity" in d
            ),
        )
    )
    for f in fm_variants(a.contenders):
        fi = info.get("%s-%d" % (f, t0)) or {}
        bi = fi.get("build_info")
        if isinstance(bi, dict):
            L.append(
                "- %s: picked build %s (level %s), GEMM kernel **%s**%s; threads %s; build_info: `%s`"
                % (
                    LABEL[f],
                    bi.get("arch"),
                    bi.get("level"),
                    bi.get("gemm"),
                    ", forced by FASTMLP_ARCH=%s" % fi["env"]["FASTMLP_ARCH"]
                    if (fi.get("env") or {}).get("FASTMLP_ARCH")
                    else "",
                    ", ".join(
                        "%s→%s" % (k.rsplit("-", 1)[1], d.get("fastmlp_threads", "n/a"))
                        for k, d in info.items()
                        if k.rsplit("-", 1)[0] == f
                    ),
                    json.dumps(bi),
                )
            )
        elif fi:
            L.append("- %s: failed to start: %s" % (LABEL[f], fi.get("error")))
    ji = info.get("jax-%d" % t0) or info.get("jax-scan-%d" % t0)
    if ji and "jax" in ji:
        L.append(
            "- JAX %s (jaxlib %s), devices %s, XLA_FLAGS `%s`"
            % (ji["jax"], ji.get("jaxlib"), ji.get("devices"), ji.get("xla_flags", "").strip())
        )
    oi = info.get("onnxruntime-%d" % t0)
    if oi and "onnxruntime" in oi:
        L.append(
            "- onnxruntime %s, providers %s, intra_op_num_threads = the row's thread count, sequential"
            % (oi["onnxruntime"], oi.get("providers"))
        )
    ti = next((d for k, d in res.get("info", {}).items() if k.startswith("torch-")), None)
    if ti:
        L.append(
            "- PyTorch: %s, CPU capability %s, intra-op threads per worker: %s"
            % (
                "; ".join(ti.get("blas", [])),
                ti.get("cpu_capability", "?"),
                ", ".join(
                    "%s→%s" % (k.split("-")[1], d.get("torch_threads"))
                    for k, d in res["info"].items()
                    if k.startswith("torch-")
                ),
            )
        )
    L.append("")
    L.append("## Environment note")
    L.append("")
    removed = res["removed_env"]
    if removed:
        L.append(
            "The parent environment set %s. These make OpenBLAS use a different kernel/blocking; every "
            "contender's worker process was started with a copy of the environment **without** them."
            % ", ".join("`%s=%s`" % kv for kv in removed.items())
        )
    else:
        L.append(
            "OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE were not set in this run's environment; workers "
            "were started without them in any case."
        )
    L.append(
        "Each worker also had OPENBLAS_NUM_THREADS = OMP_NUM_THREADS = MKL_NUM_THREADS = its thread count; "
        "NumPy and scikit-learn workers call threadpoolctl.threadpool_limits(n), PyTorch "
        "torch.set_num_threads(n), fastmlp fm.set_num_threads(n) when available."
    )
    for t in sorted(set(a.threads)):
        L.append("NumPy's OpenBLAS in the %dT worker (threadpoolctl): %s." % (t, numpy_blas_arch(res, "numpy-%d" % t)))
        if res.get("info", {}).get("numpy-avx2-%d" % t):
            L.append(
                "With OPENBLAS_CORETYPE=%s (the AVX2 limit) the %dT worker reports: %s."
                % (AVX2_CORETYPE, t, numpy_blas_arch(res, "numpy-avx2-%d" % t))
            )
    if removed:
        L.append("With the environment as-is it reports: %s." % numpy_blas_arch(res, "numpy-asis-1"))
    L.append("")
    L.append(
        "## Measured sgemm peak (GFLOP/s, %d×%d @ %d×%d float32, median [min–max]; NumPy: %d timings "
        "before the rows and one in each repetition, among the rows; torch.mm: %d before)"
        % (a.sgemm_n, a.sgemm_n, a.sgemm_n, a.sgemm_n, a.sgemm_reps, a.sgemm_reps)
    )
    L.append("")
    L += sgemm_table(res, a)
    L.append("")
    L.append(
        "'% OpenBLAS' below is fastmlp's rate over the NumPy (OpenBLAS) sgemm median at the row's thread "
        "count, measured in this run; for fastmlp's AVX2 build on an AVX-512 CPU, over OpenBLAS's AVX2 kernel "
        "(the column above), which is what OpenBLAS runs on an AVX2-only CPU. '(best …)' sets fastmlp's fastest "
        "timing against the limit's fastest: a busy host only slows timings down, so that is the ratio on a "
        "quiet machine, and it does not rise when a busy minute pulls the limit's median down."
    )
    L.append("")
    L.append("## MLP 784-256-128-10, float32, plain SGD lr=%g" % LR)
    L.append("")
    L.append(
        "Synthetic MNIST-shaped data: %d × 784 float32 uniform in [0,1), 10 integer classes, seed %d. "
        "Cells: median [min–max] over %d repetitions; samples/s unless marked µs. Ratios are speed "
        "ratios of medians against the fastest other contender on the row (>1 = fastmlp faster; for "
        "latency that contender's µs / fastmlp's µs); after it, the same ratio taken within each repetition, "
        "where the two were timed seconds apart (median [min–max]): how much of a ratio is the host's noise."
        % (a.n_total, DATA_SEED, a.reps)
    )
    L.append("")
    L += main_table(res, a)
    if len(a.threads) > 1:
        L.append("")
        L.append("### Threads: fastmlp at %s threads against %d (same run)" % (", ".join(map(str, a.threads[1:])), t0))
        L.append("")
        L.append("Worst case = the slowest multi-thread timing / the fastest 1-thread timing.")
        L.append("")
        L += threads_table(res, a)
    L.append("")
    if res.get("breakdown"):
        L.append("### fastmlp batch-1 latency, layer by layer (µs, median of 7 × many calls, %dT)" % t0)
        L.append("")
        L.append(
            "| variant | model.forward | engine.forward (binding + C++) | binding floor (784-1 model: "
            "binding, input validation, output array) | products and activations (engine − floor) | "
            "Python method + `_X` (model − engine) |"
        )
        L.append("|---|---:|---:|---:|---:|---:|")
        for f, b in res["breakdown"].items():
            L.append(
                "| %s | %.2f | %.2f | %.2f | %.2f | %.2f |"
                % (
                    LABEL[f],
                    b["model.forward"],
                    b["engine.forward"],
                    b["binding floor (784-1 model)"],
                    b["engine.forward"] - b["binding floor (784-1 model)"],
                    b["model.forward"] - b["engine.forward"],
                )
            )
        L.append("")
    L.append("FLOPs: " + FLOP_FORMULA.format(f=ff, dx=dx, t=tf))
    L.append("")
    L.append("Samples per timing (calibrated per contender to ~%.2f s):" % a.target_time)
    L.append("")
    L += details_lines(res, a)
    L.append("")
    L.append("What is timed:")
    L.append(
        "- fastmlp: `model.fit(X[:n], y[:n], epochs=1, batch_size=B, learning_rate=0.01, tol=0, shuffle=False)` "
        "(includes input validation and History; inference: `model.forward(x)`, softmax output)."
    )
    L.append(
        "- PyTorch: Sequential(Linear, ReLU, Linear, ReLU, Linear), CrossEntropyLoss, optim.SGD(lr=0.01, "
        "momentum=0); loop over pre-made batch tensors: zero_grad, forward, loss, backward, step, "
        "loss.item(). Inference: `torch.softmax(model(x), 1)` under `torch.inference_mode()`."
    )
    L.append(
        "- JAX jit step: `jax.jit(step, donate_argnums=0)` (value_and_grad of mean softmax-CE + SGD) called "
        "from a Python loop over pre-made device batches, losses kept on the device, one "
        "`block_until_ready` at the end; compilation and data transfer before the timer. Inference: the jitted "
        "forward with softmax on a device array, `block_until_ready`."
    )
    L.append(
        "- JAX scan epoch: the same step under `jax.lax.scan` over the epoch's batches, the whole epoch one "
        "jitted program (compiled ahead with `.lower().compile()`, outside the timer)."
    )
    L.append(
        "- onnxruntime: inference only; fastmlp's ONNX export of the same model (`fastmlp.onnx.to_onnx`), "
        "`InferenceSession(..., intra_op_num_threads=T, inter_op_num_threads=1, ORT_SEQUENTIAL, ORT_ENABLE_ALL)`, "
        "`sess.run([out], {inp: x})` with numpy input."
    )
    L.append(
        "- NumPy: hand-written forward/backward/SGD (bench_mlp.py: NumpyMLP), loop over slices, batch loss "
        "computed every step; inference: forward incl. softmax."
    )
    L.append(
        "- scikit-learn: `MLPClassifier(hidden_layer_sizes=(256,128), activation='relu', solver='sgd', "
        "alpha=0, momentum=0, learning_rate_init=0.01, batch_size=B, max_iter=1, shuffle=False).fit(X[:n], y[:n])` "
        "(one epoch; includes its weight initialisation; float32 preserved); training rows only."
    )
    L.append("- All models are reset to identical initial weights before each timed training run (outside the timer).")
    if not a.no_digits and res["digits"]:
        L.append("")
        L.append("## Digits: time to %.0f%% test accuracy" % (100 * a.digits_target))
        L.append("")
        n_tr, n_te = res.get("digits_sizes", (0, 0))
        L.append(
            "sklearn `load_digits`, `train_test_split(test_size=0.25, random_state=0)` (%d train / %d test), "
            "X/16, float32. MLP 64-64-10, ReLU hidden, softmax + cross-entropy, plain SGD (momentum 0, "
            "no L2), lr=%g, batch %d, shuffled every epoch, each library's default weight init seeded "
            "with the seed; test accuracy checked after every epoch, stop at >= %.2f, at most %d epochs; "
            "seeds 0..%d, %dT. Time includes model creation, training and the per-epoch accuracy checks. "
            "Times/epochs are over the seeds that reached the target; ms/epoch and final accuracy over all runs. "
            "Note: %.2f on this %d-sample test set means >= %d correct, so the epoch count depends strongly "
            "on the seed; compare ms/epoch for speed."
            % (
                n_tr,
                n_te,
                a.digits_lr,
                a.digits_batch,
                a.digits_target,
                a.digits_max_epochs,
                a.digits_seeds - 1,
                t0,
                a.digits_target,
                n_te,
                int(-(-a.digits_target * n_te // 1)) if n_te else 0,
            )
        )
        L.append("")
        L += digits_table(res, a)
    L.append("")
    return L


def to_jsonable(o):
    if isinstance(o, dict):
        return {("|".join(map(str, k)) if isinstance(k, tuple) else str(k)): to_jsonable(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [to_jsonable(x) for x in o]
    if isinstance(o, datetime.datetime):
        return o.isoformat()
    return o


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
    """The report of a finished run from its --json file (to_jsonable undone), e.g. after a change to
    the report, with the run's own options."""
    with open(a.from_json) as f:
        res = json.load(f)
    for k in ("started", "finished"):
        res[k] = datetime.datetime.fromisoformat(res[k])
    res["calib"] = {tuple(k.split("|", 1)): v for k, v in res["calib"].items()}
    text = "\n".join(report(res, parse_args(res["argv"])))
    text = text.replace(
        "- Command: ",
        "- Report written again from `%s` (`--from-json`); the run's command: " % os.path.basename(a.from_json),
        1,
    )
    write_reports(text, a.out, None, None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
