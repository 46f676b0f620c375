"""The MLP of the lecture: forward pass, labels -> targets, losses, backward pass (delta recursion),
central-difference gradients, the optimizers (SGD and PyTorch's formulas), gradient clipping and
the cosine schedule.

Part of the independent NumPy reference (tests/reference.py re-exports it): it must never import fastmlp.
"""

from __future__ import annotations

import numpy as np

from reference_activations import _split, activation, activation_backward, log_softmax


# --------------------------------------------------------------------------------------
# forward pass
# --------------------------------------------------------------------------------------
def forward(params, acts, X):
    """Return [(z, a), ...] per layer.  params = [(W, b), ...], acts = [name, ...]."""
    a = np.asarray(X)
    cache = []
    for (W, b), g in zip(params, acts):
        z = a @ W + b
        a = activation(g, z)
        cache.append((z, a))
    return cache


def predict_output(params, acts, X):
    return forward(params, acts, X)[-1][1]


# --------------------------------------------------------------------------------------
# labels -> targets
# --------------------------------------------------------------------------------------
def targets(y, loss, k, dtype=np.float64):
    """Convert user labels to a dense (m, k) target matrix Y."""
    y = np.asarray(y)
    if loss == "categorical_crossentropy" and y.ndim == 1:
        Y = np.zeros((y.shape[0], k), dtype=dtype)
        Y[np.arange(y.shape[0]), y.astype(np.int64)] = 1.0
        return Y
    Y = y.astype(dtype)
    if Y.ndim == 1:
        Y = Y.reshape(-1, 1)
    return Y


# --------------------------------------------------------------------------------------
# losses  (J = mean over the batch, L2 term added by ``loss``)
# --------------------------------------------------------------------------------------
def bce_from_logits(z, Y):
    """mean over samples AND outputs of -(y ln p + (1-y) ln(1-p)), p = sigma(z).

    -(y ln sigma(z) + (1-y) ln(1 - sigma(z))) = max(z,0) - z y + ln(1 + e^{-|z|})
    """
    per = np.maximum(z, 0.0) - z * Y + np.log1p(np.exp(-np.abs(z)))
    return per.mean()


def cce_from_logits(z, Y):
    """mean over samples of -sum_k y_k ln softmax(z)_k (log-sum-exp)."""
    return -(Y * log_softmax(z)).sum(axis=1).mean()


def mse(a, Y):
    """mean over samples AND outputs of (a - y)^2, no 1/2."""
    return ((a - Y) ** 2).mean()


def mae(a, Y):
    """mean over samples AND outputs of |a - y|."""
    return np.abs(a - Y).mean()


def huber(a, Y, delta=1.0):
    """mean over samples AND outputs of r^2/2 (|r| <= delta) or delta (|r| - delta/2), r = a - y."""
    r = np.abs(a - Y)
    return np.where(r <= delta, 0.5 * r * r, delta * (r - 0.5 * delta)).mean()


def poisson(a, Y):
    """mean over samples AND outputs of y ln(y / a) - y + a (half the Poisson deviance; 0 ln 0 = 0)."""
    y_ln = np.where(Y > 0, Y * np.log(np.where(Y > 0, Y, 1.0) / a), 0.0)
    return (y_ln - Y + a).mean()


def l2_term(params, lam):
    return 0.5 * lam * sum(float((W * W).sum()) for W, _ in params)


def data_loss(params, acts, X, Y, loss_name):
    cache = forward(params, acts, X)
    z, a = cache[-1]
    if loss_name == "binary_crossentropy":
        return bce_from_logits(z, Y)
    if loss_name == "categorical_crossentropy":
        return cce_from_logits(z, Y)
    if loss_name == "mse":
        return mse(a, Y)
    if loss_name == "mae":
        return mae(a, Y)
    if loss_name == "huber":
        return huber(a, Y)
    if loss_name == "poisson":
        return poisson(a, Y)
    raise ValueError(f"unknown loss {loss_name!r}")


def loss(params, acts, X, Y, loss_name, l2=0.0):
    """J = data loss + (lambda/2) sum ||W||^2.  Y must be a dense (m, k) target."""
    return float(data_loss(params, acts, X, Y, loss_name) + l2_term(params, l2))


# --------------------------------------------------------------------------------------
# backward pass
# --------------------------------------------------------------------------------------
def output_delta(z, a, Y, loss_name, out_act):
    """delta^(L) = dJ/dz^(L) for the output layer (J = mean data loss)."""
    m, k = a.shape
    if loss_name == "categorical_crossentropy":
        assert _split(out_act)[0] == "softmax"
        return (a - Y) / m  # fused softmax + CE: (p - y) / m
    if loss_name == "binary_crossentropy":
        assert _split(out_act)[0] == "sigmoid"
        return (a - Y) / (m * k)  # fused sigmoid + BCE: (p - y) / (m k)
    if loss_name == "mse":
        dA = 2.0 * (a - Y) / (m * k)  # d/da of mean (a - y)^2
        return activation_backward(out_act, z, a, dA)
    if loss_name == "mae":
        dA = np.sign(a - Y) / (m * k)  # d/da of mean |a - y| (sign(0) = 0)
        return activation_backward(out_act, z, a, dA)
    if loss_name == "huber":
        dA = np.clip(a - Y, -1.0, 1.0) / (m * k)  # d/da of mean huber(a - y), delta 1
        return activation_backward(out_act, z, a, dA)
    if loss_name == "poisson":
        dA = (1.0 - Y / a) / (m * k)  # d/da of mean (y ln(y/a) - y + a), then the chain rule through g
        return activation_backward(out_act, z, a, dA)
    raise ValueError(f"unknown loss {loss_name!r}")


def backward(params, acts, X, Y, loss_name, l2=0.0):
    """Return [(dW, db), ...] per layer via the delta recursion."""
    return backward_with_deltas(params, acts, X, Y, loss_name, l2)[0]


def backward_with_deltas(params, acts, X, Y, loss_name, l2=0.0):
    """Return ([(dW, db), ...], [delta^(1), ..., delta^(L)]) with delta^(l) = dJ/dz^(l)."""
    X = np.asarray(X)
    cache = forward(params, acts, X)
    L = len(params)
    grads = [None] * L
    deltas = [None] * L
    z, a = cache[-1]
    delta = output_delta(z, a, Y, loss_name, acts[-1])
    for l in range(L - 1, -1, -1):
        a_prev = X if l == 0 else cache[l - 1][1]
        W = params[l][0]
        dW = a_prev.T @ delta + l2 * W
        db = delta.sum(axis=0)
        grads[l] = (dW, db)
        deltas[l] = delta
        if l > 0:
            dA_prev = delta @ W.T  # delta^(l+1) W^(l+1)^T
            z_prev, a_prev_act = cache[l - 1]
            delta = activation_backward(acts[l - 1], z_prev, a_prev_act, dA_prev)
    return grads, deltas


# --------------------------------------------------------------------------------------
# numerical gradient (central differences) -- used to self-check the reference
# --------------------------------------------------------------------------------------
def numerical_gradients(params, acts, X, Y, loss_name, l2=0.0, eps=1e-6):
    params = [(W.astype(np.float64).copy(), b.astype(np.float64).copy()) for W, b in params]
    out = []
    for W, b in params:
        gs = []
        for P in (W, b):
            G = np.zeros_like(P)
            flat, gflat = P.reshape(-1), G.reshape(-1)
            for i in range(flat.size):
                old = flat[i]
                flat[i] = old + eps
                jp = loss(params, acts, X, Y, loss_name, l2)
                flat[i] = old - eps
                jm = loss(params, acts, X, Y, loss_name, l2)
                flat[i] = old
                gflat[i] = (jp - jm) / (2 * eps)
            gs.append(G)
        out.append(tuple(gs))
    return out


# --------------------------------------------------------------------------------------
# plain gradient descent
# --------------------------------------------------------------------------------------
# --------------------------------------------------------------------------------------
# optimizers beyond SGD (PyTorch's formulas), gradient clipping, cosine schedule
# --------------------------------------------------------------------------------------
def rmsprop_steps(w, grads, lr, rho=0.99, eps=1e-8, weight_decay=0.0):
    """Apply RMSprop to flat w for each gradient in ``grads`` (gradients given, not recomputed)."""
    w = np.array(w, dtype=np.float64)
    v = np.zeros_like(w)
    for g in grads:
        g = g + weight_decay * w
        v = rho * v + (1 - rho) * g * g
        w = w - lr * g / (np.sqrt(v) + eps)
    return w


def adagrad_steps(w, grads, lr, eps=1e-10, weight_decay=0.0):
    w = np.array(w, dtype=np.float64)
    s = np.zeros_like(w)
    for g in grads:
        g = g + weight_decay * w
        s = s + g * g
        w = w - lr * g / (np.sqrt(s) + eps)
    return w


def radam_steps(w, grads, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
    """RAdam (Liu et al. 2020, "On the Variance of the Adaptive Learning Rate and Beyond", Algorithm 2,
    with PyTorch's epsilon and threshold rho_t > 5) on flat w for each gradient in ``grads``."""
    w = np.array(w, dtype=np.float64)
    m, v = np.zeros_like(w), np.zeros_like(w)
    rho_inf = 2 / (1 - beta2) - 1
    for t, g in enumerate(grads, start=1):
        g = g + weight_decay * w
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        m_hat = m / (1 - beta1**t)
        rho_t = rho_inf - 2 * t * beta2**t / (1 - beta2**t)
        if rho_t > 5:
            r = np.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            w = w - lr * m_hat * np.sqrt(1 - beta2**t) / (np.sqrt(v) + eps) * r
        else:
            w = w - lr * m_hat
    return w


def clip_gradient(g, clip_value=0.0, clip_norm=0.0):
    """Clamp entries to [-clip_value, clip_value] (if > 0), then, as PyTorch's clip_grad_norm_,
    scale by min(1, clip_norm / (||g|| + 1e-6)) (if clip_norm > 0)."""
    g = np.array(g, dtype=np.float64)
    if clip_value > 0:
        g = np.clip(g, -clip_value, clip_value)
    if clip_norm > 0:
        f = clip_norm / (np.sqrt((g * g).sum()) + 1e-6)
        if f < 1:
            g = g * f
    return g


def cosine_lr(epoch, lr0, decay_epochs, warmup_epochs=0, min_lr=0.0):
    if epoch < warmup_epochs:
        return lr0 * (epoch + 1) / warmup_epochs
    t = min(epoch - warmup_epochs, decay_epochs) / decay_epochs
    return min_lr + (lr0 - min_lr) * 0.5 * (1 + np.cos(np.pi * t))


def sgd_step(params, acts, X, Y, loss_name, lr, l2=0.0):
    """One step w <- w - lr * dJ/dw on the batch (X, Y). Returns new params."""
    grads = backward(params, acts, X, Y, loss_name, l2)
    return [(W - lr * dW, b - lr * db) for (W, b), (dW, db) in zip(params, grads)]


def sgd_epoch(params, acts, X, Y, loss_name, lr, batch_size=None, l2=0.0):
    """One epoch of mini-batch SGD in the given sample order (no shuffling).

    Returns (new params, epoch loss) where the epoch loss is the batch-size-weighted
    mean of J evaluated before each step.
    """
    m = X.shape[0]
    bs = m if batch_size is None else batch_size
    total = 0.0
    for s in range(0, m, bs):
        Xb, Yb = X[s : s + bs], Y[s : s + bs]
        total += loss(params, acts, Xb, Yb, loss_name, l2) * Xb.shape[0]
        params = sgd_step(params, acts, Xb, Yb, loss_name, lr, l2)
    return params, total / m


def init_params(sizes, rng, scale=None, dtype=np.float64):
    """Random (W, b) list for layer sizes [n0, n1, ..., nL]."""
    params = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        s = np.sqrt(6.0 / (n_in + n_out)) if scale is None else scale
        W = rng.uniform(-s, s, size=(n_in, n_out)).astype(dtype)
        b = rng.uniform(-0.5, 0.5, size=(n_out,)).astype(dtype)
        params.append((W, b))
    return params
