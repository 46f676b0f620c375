"""Backprop against central finite differences in float64.

Two checks: the library's own fm.check_gradients, and an independent central-difference
loop in this file that perturbs the weights through the layer views and calls model.loss.
"""

import zlib

import numpy as np
import pytest

import fastmlp as fm
from helpers import build, make_labels

ACTS = [
    "linear",
    "sigmoid",
    "tanh",
    "relu",
    "leaky_relu",
    "elu",
    "softplus",
    "softmax",
    ("leaky_relu", 0.2),
    ("elu", 0.5),
]  # step has no gradient
KINKED = ("relu", "leaky_relu", "elu")


def _gid(g):
    return f"{g[0]}({g[1]})" if isinstance(g, tuple) else None


LOSS_OUT = [
    ("categorical_crossentropy", "softmax"),
    ("binary_crossentropy", "sigmoid"),
    ("mse", "linear"),
    ("mse", "tanh"),
    ("mse", "sigmoid"),
    ("mse", "softmax"),
]


def _problem(hidden, loss_name, out_act, l2=0.0, m=6):
    rng = np.random.default_rng(zlib.crc32(f"{hidden}{loss_name}{out_act}{l2}".encode()))
    k = 3 if loss_name != "binary_crossentropy" else 2
    sizes = [3, 4, 3, k]
    acts = [hidden, hidden, out_act]
    model = build(sizes, acts, loss=loss_name, dtype="float64", seed=int(rng.integers(1000)), l2=l2)
    for layer in model.layers:  # non-zero biases too
        layer.bias = rng.uniform(-0.5, 0.5, size=layer.n_out)
    name = hidden[0] if isinstance(hidden, tuple) else hidden
    if name in KINKED:  # keep kinks away from FD steps
        for _ in range(100):
            X = rng.normal(size=(m, 3))
            if all(np.abs(z).min() > 1e-3 for z, _ in model.trace(X)[:2]):
                break
    else:
        X = rng.normal(size=(m, 3))
    y, _ = make_labels(rng, loss_name, m, k)
    return model, X, y


@pytest.mark.parametrize("hidden", ACTS, ids=_gid)
@pytest.mark.parametrize("loss_name,out_act", LOSS_OUT)
def test_check_gradients_float64(hidden, loss_name, out_act):
    model, X, y = _problem(hidden, loss_name, out_act)
    err = fm.check_gradients(model, X, y)
    assert isinstance(err, float)
    assert err < 1e-6


@pytest.mark.parametrize("l2", [0.0, 0.2])
def test_check_gradients_with_l2_and_float32_model(l2):
    model, X, y = _problem("tanh", "categorical_crossentropy", "softmax", l2=l2)
    assert fm.check_gradients(model, X, y) < 1e-6
    m32 = build([3, 4, 3], ["tanh", "softmax"], dtype="float32", seed=0, l2=l2)
    # computed on a float64 copy, so a float32 model checks just as tightly
    assert fm.check_gradients(m32, X, np.array([0, 1, 2, 0, 1, 2])) < 1e-6
    assert m32.dtype == np.float32  # the model itself is untouched


def _own_central_difference(model, X, y, eps=1e-6):
    """Central differences of model.loss wrt every weight and bias, via the views."""
    out = []
    for layer in model.layers:
        grads = []
        for name in ("weights", "bias"):
            P = getattr(layer, name)  # live view
            G = np.zeros(P.shape)
            for idx in np.ndindex(P.shape):
                old = P[idx]
                P[idx] = old + eps
                jp = model.loss(X, y)
                P[idx] = old - eps
                jm = model.loss(X, y)
                P[idx] = old
                G[idx] = (jp - jm) / (2 * eps)
            grads.append(G)
        out.append(tuple(grads))
    return out


@pytest.mark.parametrize("hidden", ACTS, ids=_gid)
@pytest.mark.parametrize("loss_name,out_act", LOSS_OUT[:3] + [("mse", "softmax")])
@pytest.mark.parametrize("l2", [0.0, 0.1])
def test_own_central_difference(hidden, loss_name, out_act, l2):
    model, X, y = _problem(hidden, loss_name, out_act, l2=l2)
    fd = _own_central_difference(model, X, y)
    bp = model.gradients(X, y)
    for (dW, db), (nW, nb) in zip(bp, fd):
        scale = max(np.abs(nW).max(), np.abs(nb).max(), 1e-3)
        np.testing.assert_allclose(dW, nW, rtol=1e-6, atol=1e-7 * scale)
        np.testing.assert_allclose(db, nb, rtol=1e-6, atol=1e-7 * scale)
    # the gradients are not trivially zero
    assert max(np.abs(dW).max() for dW, _ in bp) > 1e-4


def test_own_check_can_fail():
    """Our finite-difference check can fail: it tells apart the gradient of a
    different objective (labels shifted by 1)."""
    model, X, y = _problem("tanh", "mse", "linear")
    fd = _own_central_difference(model, X, y)
    bp_other = model.gradients(X, y + 1.0)
    assert not np.allclose(bp_other[-1][0], fd[-1][0], rtol=1e-3)
