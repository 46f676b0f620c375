"""Independent plain-NumPy reference implementation of an MLP.

Written the way the lecture notes write the math (samples as rows):

    a^(0) = X
    z^(l) = a^(l-1) W^(l) + b^(l)          (m x n_l)
    a^(l) = g_l(z^(l))

    J = mean_i loss_i + (lambda / 2) * sum_l ||W^(l)||_F^2    (L2 term not divided by m)

Backward pass (delta recursion):

    delta^(L) = dJ/dz^(L)           (fused output error, see ``output_delta``)
    delta^(l) = (delta^(l+1) W^(l+1)^T) * g_l'(z^(l))
    dJ/dW^(l) = a^(l-1)^T delta^(l) + lambda W^(l)
    dJ/db^(l) = sum_i delta_i^(l)

This module must never import fastmlp: it is the independent oracle the library is
tested against.  Everything here is float64 unless the caller passes float32 arrays
(the tests always compute the reference in float64).
"""

from __future__ import annotations

import numpy as np

ACTIVATIONS = (
    "linear",
    "sigmoid",
    "tanh",
    "relu",
    "leaky_relu",
    "elu",
    "softplus",
    "softmax",
    "step",
    "gelu",
    "silu",
    "mish",
    "exp",
)
# default alpha of the parametrised activations; an activation may also be given as a
# (name, alpha) pair wherever a name is accepted
DEFAULT_ALPHA = {"leaky_relu": 0.01, "elu": 1.0}
LOSSES = ("binary_crossentropy", "categorical_crossentropy", "mse", "mae", "huber", "poisson")


# --------------------------------------------------------------------------------------
# activations g(z) and their derivatives g'(z)
# --------------------------------------------------------------------------------------
def linear(z):
    return z.copy()


def linear_prime(z):
    return np.ones_like(z)


def sigmoid(z):
    # sigma(z) = 1 / (1 + e^{-z}), written piecewise so that exp never overflows
    z = np.asarray(z)
    out = np.empty_like(z)
    pos = z >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
    ez = np.exp(z[~pos])
    out[~pos] = ez / (1.0 + ez)
    return out


def sigmoid_prime(z):
    # sigma'(z) = sigma(z) (1 - sigma(z))
    s = sigmoid(z)
    return s * (1.0 - s)


def tanh(z):
    return np.tanh(z)


def tanh_prime(z):
    # tanh'(z) = 1 - tanh(z)^2
    return 1.0 - np.tanh(z) ** 2


def relu(z):
    return np.maximum(z, 0.0)


def relu_prime(z):
    # convention: relu'(0) = 0 (random test data never hits 0 exactly)
    return (z > 0).astype(z.dtype)


def leaky_relu(z, alpha=0.01):
    return np.where(z > 0, z, alpha * z)


def leaky_relu_prime(z, alpha=0.01):
    return np.where(z > 0, 1.0, alpha).astype(z.dtype)


def elu(z, alpha=1.0):
    # z if z > 0 else alpha (e^z - 1)
    return np.where(z > 0, z, alpha * np.expm1(np.minimum(z, 0.0)))


def elu_prime(z, alpha=1.0):
    return np.where(z > 0, 1.0, alpha * np.exp(np.minimum(z, 0.0))).astype(z.dtype)


def softplus(z):
    # ln(1 + e^z) = max(z, 0) + ln(1 + e^{-|z|})
    return np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z)))


def softplus_prime(z):
    return sigmoid(z)


def step(z):
    # threshold unit: 1 if z >= 0 else 0
    return (z >= 0).astype(z.dtype)


def step_prime(z):
    return np.zeros_like(z)


_erf = np.vectorize(__import__("math").erf, otypes=[np.float64])


def gelu(z):
    # z Phi(z), Phi the standard normal CDF = (1 + erf(z / sqrt 2)) / 2
    return z * 0.5 * (1.0 + _erf(z / np.sqrt(2.0)))


def gelu_prime(z):
    # Phi(z) + z phi(z), phi(z) = e^{-z^2/2} / sqrt(2 pi)
    return 0.5 * (1.0 + _erf(z / np.sqrt(2.0))) + z * np.exp(-0.5 * z * z) / np.sqrt(2.0 * np.pi)


def silu(z):
    # z sigma(z)
    return z * sigmoid(z)


def silu_prime(z):
    s = sigmoid(z)
    return s + z * s * (1.0 - s)


def mish(z):
    # z tanh(softplus(z))
    return z * np.tanh(softplus(z))


def mish_prime(z):
    # tanh(sp) + z sech^2(sp) sp',  sp' = sigma(z)
    t = np.tanh(softplus(z))
    return t + z * (1.0 - t * t) * sigmoid(z)


def softmax(z):
    # exponentiate then normalise, with max-subtraction for stability (row-wise)
    z = np.asarray(z)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def log_softmax(z):
    z = np.asarray(z)
    zmax = z.max(axis=1, keepdims=True)
    return z - zmax - np.log(np.exp(z - zmax).sum(axis=1, keepdims=True))


def softmax_jvp(a, dA):
    """dJ/dz for a = softmax(z) given dJ/da (row-wise Jacobian-vector product).

    da_k/dz_j = a_k (delta_kj - a_j)  =>  dz_j = a_j (dA_j - sum_k dA_k a_k)
    """
    return a * (dA - (dA * a).sum(axis=1, keepdims=True))


def exp(z):
    return np.exp(z)


def exp_prime(z):
    return np.exp(z)


_G = {
    "linear": linear,
    "sigmoid": sigmoid,
    "tanh": tanh,
    "relu": relu,
    "leaky_relu": leaky_relu,
    "elu": elu,
    "softplus": softplus,
    "softmax": softmax,
    "step": step,
    "gelu": gelu,
    "silu": silu,
    "mish": mish,
    "exp": exp,
}
_G_PRIME = {
    "linear": linear_prime,
    "sigmoid": sigmoid_prime,
    "tanh": tanh_prime,
    "relu": relu_prime,
    "leaky_relu": leaky_relu_prime,
    "elu": elu_prime,
    "softplus": softplus_prime,
    "step": step_prime,
    "gelu": gelu_prime,
    "silu": silu_prime,
    "mish": mish_prime,
    "exp": exp_prime,
}


def _split(g):
    """'elu' -> ('elu', (1.0,)); ('elu', 0.5) -> ('elu', (0.5,)); 'tanh' -> ('tanh', ())."""
    if isinstance(g, tuple):
        name, alpha = g
    else:
        name, alpha = g, DEFAULT_ALPHA.get(g)
    if name in DEFAULT_ALPHA:
        return name, (DEFAULT_ALPHA[name] if alpha is None else alpha,)
    return name, ()


def activation(g, z):
    name, extra = _split(g)
    return _G[name](z, *extra)


def activation_prime(g, z):
    """Element-wise derivative g'(z); softmax has no element-wise derivative."""
    name, extra = _split(g)
    if name == "softmax":
        raise ValueError("softmax is not element-wise: use activation_backward")
    return _G_PRIME[name](z, *extra)


def activation_backward(g, z, a, dA):
    """dJ/dz given dJ/da for layer activation ``g`` (a name or a (name, alpha) pair)."""
    if _split(g)[0] == "softmax":
        return softmax_jvp(a, dA)
    return dA * activation_prime(g, z)


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


# --------------------------------------------------------------------------------------
# normalization layers (on a hidden layer's output a, before its dropout)
# --------------------------------------------------------------------------------------
def norm_forward(kind, a, gamma, beta, eps, mean=None, var=None):
    """y = gamma * (a - mu) / sqrt(var + eps) + beta.  kind "batch": mu, var per column over
    the rows (biased), or the given running mean / var; kind "layer": per row over its columns."""
    axis = 0 if kind == "batch" else 1
    if mean is None:
        mean = a.mean(axis=axis, keepdims=True)
        var = ((a - mean) ** 2).mean(axis=axis, keepdims=True)
    x_hat = (a - mean) / np.sqrt(var + eps)
    return gamma * x_hat + beta, (a, mean, var)


def norm_backward(kind, dy, cache, gamma, eps, batch_statistics=True):
    """(dJ/da, dgamma, dbeta) by the chain rule through mu and var written out term by term
    (Ioffe & Szegedy's derivation), not the compact formula network.hpp uses."""
    a, mean, var = cache
    axis = 0 if kind == "batch" else 1
    n = a.shape[axis]
    x_hat = (a - mean) / np.sqrt(var + eps)
    dgamma, dbeta = (dy * x_hat).sum(axis=0), dy.sum(axis=0)
    dx_hat = dy * gamma
    if kind == "batch" and not batch_statistics:  # constants: an affine map
        return dx_hat / np.sqrt(var + eps), dgamma, dbeta
    dvar = (dx_hat * (a - mean) * -0.5 * (var + eps) ** -1.5).sum(axis=axis, keepdims=True)
    dmean = (-dx_hat / np.sqrt(var + eps)).sum(axis=axis, keepdims=True) + dvar * (-2.0 * (a - mean)).mean(
        axis=axis, keepdims=True
    )
    da = dx_hat / np.sqrt(var + eps) + dvar * 2.0 * (a - mean) / n + dmean / n
    return da, dgamma, dbeta


def norm_mlp_loss_and_grads(params, acts, norms, X, Y, loss_name, batch_statistics=True):
    """J and [(dW, db, dgamma, dbeta or None...)] for an MLP whose hidden layer l output is
    normalized by norms[l] = None or dict(kind, gamma, beta, eps[, mean, var]) (running
    statistics used for "batch" when batch_statistics is False). No L2, no dropout."""
    a = np.asarray(X, dtype=np.float64)
    inputs, caches, zs, acts_out = [a], [], [], []
    L = len(params)
    for l, ((W, b), g) in enumerate(zip(params, acts)):
        z = a @ W + b
        a = activation(g, z)
        zs.append(z)
        acts_out.append(a)
        norm = norms[l]
        if norm is not None and l + 1 < L:
            running = norm["kind"] == "batch" and not batch_statistics
            a, cache = norm_forward(
                norm["kind"], a, norm["gamma"], norm["beta"], norm["eps"],
                norm.get("mean") if running else None, norm.get("var") if running else None,
            )  # fmt: skip
            caches.append(cache)
        else:
            caches.append(None)
        inputs.append(a)
    z, a_L = zs[-1], acts_out[-1]
    J = {"categorical_crossentropy": lambda: cce_from_logits(z, Y), "mse": lambda: mse(a_L, Y)}[loss_name]()
    delta = output_delta(z, a_L, Y, loss_name, acts[-1])
    grads = [None] * L
    for l in range(L - 1, -1, -1):
        W = params[l][0]
        grads[l] = [inputs[l].T @ delta, delta.sum(axis=0)]
        if l == 0:
            break
        d = delta @ W.T  # dJ/d(input of layer l)
        norm = norms[l - 1]
        if norm is not None:
            d, dgamma, dbeta = norm_backward(
                norm["kind"], d, caches[l - 1], norm["gamma"], norm["eps"], batch_statistics
            )
            norm["_grads"] = (dgamma, dbeta)
        delta = activation_backward(acts[l - 1], zs[l - 1], acts_out[l - 1], d)
    for l, norm in enumerate(norms):
        if norm is not None and l + 1 < L:
            grads[l] += list(norm.pop("_grads"))
    return float(J), grads


# --------------------------------------------------------------------------------------
# layer stacks in any order: Dense, normalizations, Activation, Dropout (off), Residual
# --------------------------------------------------------------------------------------
# A layer is a dict:
#   {"type": "Dense", "W": W, "b": b, "g": act}           z = x W + b, a = g(z)
#   {"type": "BatchNormalization" | "LayerNormalization", "gamma", "beta", "eps"[, "mean", "var"]}
#   {"type": "Activation", "g": act}                      a = g(x)
#   {"type": "Dropout"}                                    y = x (no dropout: inference)
#   {"type": "Residual", "layers": [...]}                 y = x + f(x), f the inner stack
#   {"type": "Embedding", "E": E}                          y[i] = E[x[i, 0]], ..., E[x[i, k-1]] side by side
#   {"type": "ColumnEmbedding", "tables": {c: E_c}}        y[i] = [x[i, other columns] | E_c[x[i, c]] for c in order]
# The stack's last layer (a Dense or an Activation) is the output layer: its g is the loss's
# (z there is what output_delta and the fused losses take).
_NORM_KINDS = {"BatchNormalization": "batch", "LayerNormalization": "layer"}


def _layer_forward(layer, x, batch_statistics):
    t = layer["type"]
    if t == "Dense":
        z = x @ layer["W"] + layer["b"]
        return activation(layer["g"], z), (x, z)
    if t == "Activation":
        return activation(layer["g"], x), (x, x)
    if t in _NORM_KINDS:
        kind = _NORM_KINDS[t]
        running = kind == "batch" and not batch_statistics
        mean, var = (layer["mean"].reshape(1, -1), layer["var"].reshape(1, -1)) if running else (None, None)
        y, cache = norm_forward(kind, x, layer["gamma"], layer["beta"], layer["eps"], mean, var)
        return y, cache
    if t == "Dropout":
        return x, None
    if t == "Residual":
        f, caches = stack_forward(layer["layers"], x, batch_statistics)
        return x + f, caches
    if t == "Embedding":  # the codes index E's rows: (m, k) -> (m, k, D) -> (m, k D)
        codes = x.astype(np.int64)
        return layer["E"][codes].reshape(x.shape[0], -1), codes
    if t == "ColumnEmbedding":  # numbers pass, each code column is looked up in its own table
        cols = sorted(layer["tables"])
        numeric = [j for j in range(x.shape[1]) if j not in cols]
        parts = [x[:, numeric]] + [layer["tables"][c][x[:, c].astype(np.int64)] for c in cols]
        return np.concatenate(parts, axis=1), x
    raise ValueError(f"unknown layer type {t!r}")


def stack_forward(layers, X, batch_statistics=False):
    """(output a, [cache per layer]) of a layer stack on X (batch normalization by the batch's
    statistics when batch_statistics, else the running ones)."""
    a, caches = np.asarray(X, dtype=np.float64), []
    for layer in layers:
        a, cache = _layer_forward(layer, a, batch_statistics)
        caches.append((a, cache))
    return a, caches


def _layer_backward(layer, out, cache, dy, batch_statistics, head, l2, grads):
    """dJ/dx of one layer from dy = dJ/d(output) (head: dy is already dJ/dz of the output
    layer); its parameter gradients go into grads[id(layer)]."""
    t = layer["type"]
    if t == "Dense":
        x, z = cache
        dz = dy if head else activation_backward(layer["g"], z, out, dy)
        grads[id(layer)] = {"W": x.T @ dz + l2 * layer["W"], "b": dz.sum(axis=0)}
        return dz @ layer["W"].T
    if t == "Activation":
        x, _ = cache
        return dy if head else activation_backward(layer["g"], x, out, dy)
    if t in _NORM_KINDS:
        dx, dgamma, dbeta = norm_backward(_NORM_KINDS[t], dy, cache, layer["gamma"], layer["eps"], batch_statistics)
        grads[id(layer)] = {"gamma": dgamma, "beta": dbeta}
        return dx
    if t == "Dropout":
        return dy
    if t == "Residual":  # y = x + f(x): dx = dy + (df/dx)^T dy
        return dy + _stack_backward(layer["layers"], cache, dy, batch_statistics, False, l2, grads)
    if t == "Embedding":  # dE[v] = sum of dy's rows at the (i, j) with code v; no dx (codes)
        codes, E = cache, layer["E"]
        dE = np.zeros_like(E, dtype=np.float64)
        np.add.at(dE, codes.ravel(), dy.reshape(-1, E.shape[1]))
        grads[id(layer)] = {"E": dE}
        return None
    if t == "ColumnEmbedding":  # dE_c[v] = sum of dy's block c over the rows with code v; no dx
        x, cols = cache, sorted(layer["tables"])
        at = x.shape[1] - len(cols)
        grads[id(layer)] = {}
        for c in cols:
            E = layer["tables"][c]
            dE = np.zeros_like(E, dtype=np.float64)
            np.add.at(dE, x[:, c].astype(np.int64), dy[:, at : at + E.shape[1]])
            grads[id(layer)][c] = dE
            at += E.shape[1]
        return None
    raise ValueError(f"unknown layer type {t!r}")


def _stack_backward(layers, caches, dy, batch_statistics, head, l2, grads):
    for i in range(len(layers) - 1, -1, -1):
        out, cache = caches[i]
        dy = _layer_backward(layers[i], out, cache, dy, batch_statistics, head and i == len(layers) - 1, l2, grads)
        if dy is None:  # an Embedding (the first layer): nothing before it
            break
    return dy


def _dense_weights(layers):
    for layer in layers:
        if layer["type"] == "Dense":
            yield layer["W"]
        elif layer["type"] == "Residual":
            yield from _dense_weights(layer["layers"])


def stack_loss_and_grads(layers, X, Y, loss_name, batch_statistics=False, l2=0.0):
    """(J, grads, output a): J = mean data loss + (l2 / 2) sum ||W||^2 over every Dense (inner
    ones too; not E), grads = {id(layer): {"W", "b"}, {"gamma", "beta"} or {"E"}} by backprop
    through the stack."""
    a, caches = stack_forward(layers, X, batch_statistics)
    head = layers[-1]
    if head["type"] not in ("Dense", "Activation"):
        raise ValueError("the output layer must be a Dense or an Activation")
    z = caches[-1][1][1]  # the output layer's pre-activation
    J = {
        "categorical_crossentropy": lambda: cce_from_logits(z, Y),
        "binary_crossentropy": lambda: bce_from_logits(z, Y),
        "mse": lambda: mse(a, Y),
        "mae": lambda: mae(a, Y),
        "huber": lambda: huber(a, Y),
    }[loss_name]()
    J += 0.5 * l2 * sum(float((W * W).sum()) for W in _dense_weights(layers))
    grads = {}
    delta = output_delta(z, a, Y, loss_name, head["g"])
    _stack_backward(layers, caches, delta, batch_statistics, True, l2, grads)
    return float(J), grads, a
