"""Helpers for the issue-4 training-feature tests.

The optimizer formulas below are written from torch.optim's documentation
(SGD with momentum / Nesterov / weight decay, Adam with bias correction, AdamW),
independently of fastmlp. Gradients for NumPy replays come from tests/reference.py.
"""

import numpy as np

import fastmlp as fm
import reference as ref


# ----------------------------------------------------------------------------- models / data
def dense_model(sizes, acts, loss=None, dtype="float64", seed=0, optimizer="sgd", l2=0.0, **dense_kw):
    layers = [fm.Dense(a, b, activation=g, **dense_kw) for a, b, g in zip(sizes[:-1], sizes[1:], acts)]
    return fm.Sequential(layers, loss=loss, dtype=dtype, seed=seed, optimizer=optimizer, l2=l2)


def _clf(seed=0, k=3, **kw):
    return dense_model([3, 6, k], ["tanh", "softmax"], seed=seed, **kw)


def blobs(m=40, d=3, k=3, seed=0):
    """Small, roughly separable classification data: (X, integer ids)."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=2.0, size=(k, d))
    ids = np.arange(m) % k
    rng.shuffle(ids)
    X = centers[ids] + rng.normal(size=(m, d))
    return X, ids


def regression(m=30, d=3, k=1, seed=0, noise=0.1):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(m, d))
    W = rng.normal(size=(d, k))
    Y = X @ W + noise * rng.normal(size=(m, k))
    return X, (Y[:, 0] if k == 1 else Y)


# ----------------------------------------------------------------------------- parameters
def params_list(model):
    """[(W, b), ...] float64 copies, Dense layers only (Dropout skipped)."""
    return [(np.array(l.weights, dtype=np.float64), np.array(l.bias, dtype=np.float64)) for l in model.dense_layers]


def flatten(pairs):
    """[(W, b), ...] -> one flat vector in the model's layout [W1, b1, W2, b2, ...]."""
    return np.concatenate([np.concatenate([np.ravel(W), np.ravel(b)]) for W, b in pairs])


def unflatten(flat, sizes):
    out, i = [], 0
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        W = flat[i : i + n_in * n_out].reshape(n_in, n_out)
        i += n_in * n_out
        b = flat[i : i + n_out]
        i += n_out
        out.append((W.copy(), b.copy()))
    assert i == flat.size
    return out


def sizes_of(model):
    return [model.dense_layers[0].n_in] + [l.n_out for l in model.dense_layers]


def acts_of(model):
    return [l.activation for l in model.dense_layers]


def ref_grad_fn(model, X, y, l2=0.0):
    """flat params -> flat full-batch gradient, computed by the NumPy reference."""
    sizes, acts = sizes_of(model), acts_of(model)
    Y = ref.targets(y, model.loss_name, model.n_outputs)
    X = np.asarray(X, dtype=np.float64)

    def grad(flat):
        return flatten(ref.backward(unflatten(flat, sizes), acts, X, Y, model.loss_name, l2))

    return grad


def ref_loss_fn(model, X, y, l2=0.0):
    sizes, acts = sizes_of(model), acts_of(model)
    Y = ref.targets(y, model.loss_name, model.n_outputs)
    X = np.asarray(X, dtype=np.float64)
    return lambda flat: ref.loss(unflatten(flat, sizes), acts, X, Y, model.loss_name, l2)


# ----------------------------------------------------------------------------- optimizer formulas (torch.optim)
class NpSGD:
    """torch.optim.SGD (dampening 0):  g = grad + wd * p;  momentum: b = mu b + g (b = g at t=1);
    nesterov: g = g + mu b, else g = b;  p -= lr g."""

    def __init__(self, lr, momentum=0.0, nesterov=False, weight_decay=0.0):
        self.lr, self.mu, self.nesterov, self.wd = lr, momentum, nesterov, weight_decay
        self.buf = None

    def step(self, p, grad):
        g = grad + self.wd * p
        if self.mu != 0:
            self.buf = g.copy() if self.buf is None else self.mu * self.buf + g
            g = g + self.mu * self.buf if self.nesterov else self.buf
        return p - self.lr * g


class NpAdam:
    """torch.optim.Adam / AdamW (decoupled=True)."""

    def __init__(self, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, decoupled=False):
        self.lr, self.b1, self.b2, self.eps, self.wd, self.decoupled = lr, beta1, beta2, eps, weight_decay, decoupled
        self.m = self.v = None
        self.t = 0

    def step(self, p, grad):
        if self.decoupled:
            p = p * (1 - self.lr * self.wd)
            g = grad
        else:
            g = grad + self.wd * p
        if self.m is None:
            self.m, self.v = np.zeros_like(p), np.zeros_like(p)
        self.t += 1
        self.m = self.b1 * self.m + (1 - self.b1) * g
        self.v = self.b2 * self.v + (1 - self.b2) * g * g
        mhat = self.m / (1 - self.b1**self.t)
        vhat = self.v / (1 - self.b2**self.t)
        return p - self.lr * mhat / (np.sqrt(vhat) + self.eps)


def replay_full_batch(p0, grad_fn, opt, steps, lrs=None):
    """Full-batch training in NumPy: returns the params after each step."""
    out, p = [], p0.copy()
    for s in range(steps):
        if lrs is not None:
            opt.lr = lrs[s]
        p = opt.step(p, grad_fn(p))
        out.append(p.copy())
    return out


# ----------------------------------------------------------------------------- reference deltas
def ref_deltas(params, acts, X, Y, loss_name):
    """delta_l = dJ/dz_l for every layer (no L2 term: it does not enter delta)."""
    cache = ref.forward(params, acts, X)
    L = len(params)
    deltas = [None] * L
    z, a = cache[-1]
    delta = ref.output_delta(z, a, Y, loss_name, acts[-1])
    deltas[-1] = delta
    for l in range(L - 1, 0, -1):
        dA = delta @ params[l][0].T
        z_prev, a_prev = cache[l - 1]
        delta = ref.activation_backward(acts[l - 1], z_prev, a_prev, dA)
        deltas[l - 1] = delta
    return cache, deltas


# ----------------------------------------------------------------------------- new activations in NumPy
def leaky_relu(z, alpha=0.01):
    return np.where(z > 0, z, alpha * z)


def elu(z, alpha=1.0):
    return np.where(z > 0, z, alpha * np.expm1(np.minimum(z, 0)))


def softplus(z):
    return np.logaddexp(0.0, z)


# ----------------------------------------------------------------------------- stopping rules, written out
def simulate_early_stopping(monitored, patience, min_delta):
    """The documented rule applied to a sequence: returns (epochs run, best epoch)."""
    best, best_epoch, wait = np.inf, -1, 0
    for e, v in enumerate(monitored):
        if v < best - min_delta:
            best, best_epoch, wait = v, e, 0
        else:
            wait += 1
            if wait >= patience:
                return e + 1, best_epoch
    return len(monitored), best_epoch


def simulate_plateau(monitored, lr0, factor, patience, min_delta, min_lr=0.0):
    """lr of every epoch under reduce-on-plateau given the monitored value of every epoch."""
    lrs, lr, best, wait = [], lr0, np.inf, 0
    for v in monitored:
        lrs.append(lr)
        if v < best - min_delta:
            best, wait = v, 0
        else:
            wait += 1
            if wait >= patience:
                lr, wait = max(lr * factor, min_lr), 0
    return lrs


class ParamRecorder:
    """An epoch callback that keeps a copy of the parameters after every epoch (and the logs)."""

    def __init__(self, model, stop_at=None):
        self.model, self.stop_at = model, stop_at
        self.params, self.logs, self.epochs = [], [], []

    def __call__(self, epoch, logs):
        self.epochs.append(epoch)
        self.logs.append(dict(logs))
        self.params.append(self.model.params.copy())
        if self.stop_at is not None and epoch >= self.stop_at:
            return False
        return None
