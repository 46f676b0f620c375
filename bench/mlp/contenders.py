"""The contenders, one class each, as their worker processes run them: NumPy (and its two sgemm-only
variants), scikit-learn, PyTorch eager, fastmlp (every SIMD variant), JAX (jit step, lax.scan epoch) and
onnxruntime. Each imports its library when its worker starts it."""

import json
import os
import statistics
import time

from .base import Contender, blas_info, import_fastmlp, np_sgemm
from .workload import FASTMLP_VARIANTS, LAYERS, LR, MODEL_SEED, NumpyMLP, digits_arrays


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

        return {"numpy": np.__version__, "blas": blas_info()}

    def reset(self):
        self.model.restore(self.snap)

    def train_run(self, batch, n):
        self.model.train_epoch(self.X[:n], self.y[:n], batch, LR)

    def infer_fn(self, m):
        x = self.X[:m]
        fw = self.model.forward
        return lambda: fw(x)

    def sgemm(self, N, reps):
        return np_sgemm(N, reps)

    def digits(self, data, seed, lr, batch, max_epochs, target):
        import numpy as np

        Xtr, ytr, Xte, yte = digits_arrays(data)
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

        return {"sklearn": sklearn.__version__, "blas": blas_info()}

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

        Xtr, ytr, Xte, yte = digits_arrays(data)
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
        Xtr, ytr, Xte, yte = (torch.from_numpy(a) for a in digits_arrays(data))
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
            "blas": blas_info(),
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

        Xtr, ytr, Xte, yte = digits_arrays(data)
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
