"""The workload every contender runs: the MLP, its data, its FLOPs, the contenders' names, and the
hand-written NumPy MLP (the NumPy contender, and the initial weights of the JAX ones)."""

import os

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

BENCH_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # bench/
REPO = os.path.dirname(BENCH_DIR)
ENTRY = os.path.join(BENCH_DIR, "bench_mlp.py")  # the command line; workers are started through it too


def fm_variants(cs):
    return [c for c in cs if c in FASTMLP_VARIANTS]


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


def digits_arrays(path):
    import numpy as np

    d = np.load(path)
    return (
        np.ascontiguousarray(d["Xtr"], dtype=np.float32),
        d["ytr"].astype(np.int64),
        np.ascontiguousarray(d["Xte"], dtype=np.float32),
        d["yte"].astype(np.int64),
    )


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
