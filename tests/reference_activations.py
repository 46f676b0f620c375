"""Activations g(z), their derivatives g'(z) and the backward step through them (dJ/dz from dJ/da).

Part of the independent NumPy reference (tests/reference.py re-exports it): it must never import fastmlp.
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
