"""Issue 4: the new activations (leaky_relu, elu, softplus): forward, extreme inputs, gradients,
alpha; and model.trace(X, y) deltas against the NumPy reference."""

import numpy as np
import pytest

import fastmlp as fm
import reference as ref
from helpers_training import blobs, dense_model, elu, leaky_relu, ref_deltas, softplus

# ============================================================================= new activations
ACT_FORMULAS = {
    "leaky_relu": lambda z, alpha: leaky_relu(z, 0.01 if alpha is None else alpha),
    "elu": lambda z, alpha: elu(z, 1.0 if alpha is None else alpha),
    "softplus": lambda z, alpha: softplus(z),
}
ACT_PRIMES = {
    "leaky_relu": lambda z, alpha: np.where(z > 0, 1.0, alpha),
    "elu": lambda z, alpha: np.where(z > 0, 1.0, alpha * np.exp(np.minimum(z, 0))),
    "softplus": lambda z, alpha: ref.sigmoid(z),
    "tanh": lambda z, alpha: 1 - np.tanh(z) ** 2,
    "linear": lambda z, alpha: np.ones_like(z),
}


@pytest.mark.parametrize(
    "act,alpha", [("leaky_relu", None), ("leaky_relu", 0.2), ("elu", None), ("elu", 0.5), ("softplus", None)]
)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_activation_forward(act, alpha, dtype):
    rng = np.random.default_rng(12)
    X = rng.normal(size=(25, 4)) * 3
    model = fm.Sequential(
        [fm.Dense(4, 6, act, alpha=alpha), fm.Dense(6, 2, act, alpha=alpha)], seed=3, dtype=dtype, optimizer="sgd"
    )
    (W1, b1), (W2, b2) = [(np.array(l.weights, np.float64), np.array(l.bias, np.float64)) for l in model.dense_layers]
    b1[:] = rng.normal(size=6)
    model.dense_layers[0].bias = b1
    g = ACT_FORMULAS[act]
    expect = g(g(X @ W1 + b1, alpha) @ W2 + b2, alpha)
    tol = dict(rtol=1e-12, atol=1e-14) if dtype == "float64" else dict(rtol=2e-5, atol=2e-6)
    np.testing.assert_allclose(model.forward(X), expect, **tol)
    tr = model.trace(X)
    np.testing.assert_allclose(tr[0][1], g(tr[0][0], alpha), **tol)
    if act != "softplus":
        assert model.dense_layers[0].alpha == (alpha if alpha is not None else {"leaky_relu": 0.01, "elu": 1.0}[act])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_softplus_and_elu_extreme_inputs(dtype):
    z = np.array([[-800.0], [-40.0], [0.0], [40.0], [800.0]])
    for act, expect in (("softplus", softplus(z)), ("elu", elu(z)), ("leaky_relu", leaky_relu(z))):
        model = fm.Sequential([fm.Dense(1, 1, act)], dtype=dtype, seed=0, optimizer="sgd")
        model.dense_layers[0].weights = [[1.0]]
        out = model.forward(z)
        assert np.isfinite(out).all(), act
        np.testing.assert_allclose(out, expect, rtol=1e-6, atol=1e-30)


@pytest.mark.parametrize(
    "hidden,alpha,out",
    [
        ("leaky_relu", 0.2, "linear"),
        ("elu", 0.7, "tanh"),
        ("softplus", None, "sigmoid"),
        ("tanh", None, "leaky_relu"),
        ("tanh", None, "elu"),
        ("relu", None, "softplus"),
        ("elu", None, "softmax"),
        ("leaky_relu", None, "sigmoid"),
    ],
)
def test_new_activations_gradient_check(hidden, alpha, out):
    rng = np.random.default_rng(13)
    X = rng.normal(size=(7, 3))
    layers = [fm.Dense(3, 5, hidden, alpha=alpha), fm.Dense(5, 4, hidden, alpha=alpha), fm.Dense(4, 2, out)]
    model = fm.Sequential(
        layers, seed=4, dtype="float64", loss="mse" if out != "softmax" else None, l2=0.01, optimizer="sgd"
    )
    if out == "softmax":
        y = rng.integers(0, 2, 7)
    elif out == "sigmoid":
        y = rng.integers(0, 2, (7, 2))
    else:
        y = rng.normal(size=(7, 2))
    err = fm.check_gradients(model, X, y)
    assert err < 1e-6


@pytest.mark.parametrize(
    "hidden,alpha,out",
    [
        ("leaky_relu", 0.2, "linear"),
        ("elu", 0.7, "elu"),
        ("softplus", None, "softplus"),
        ("leaky_relu", 0.05, "leaky_relu"),
    ],
)
def test_trace_delta_new_activations(hidden, alpha, out):
    """delta from trace(X, y) against the recursion written with NumPy derivatives (mse)."""
    rng = np.random.default_rng(14)
    X = rng.normal(size=(9, 3))
    y = rng.normal(size=(9, 2))
    dense = [fm.Dense(3, 5, hidden, alpha=alpha), fm.Dense(5, 2, out, alpha=alpha if out == hidden else None)]
    model = fm.Sequential(dense, seed=5, dtype="float64", optimizer="sgd")
    tr = model.trace(X, y)
    (z1, a1, d1), (z2, a2, d2) = tr
    a_out = model.dense_layers[1].alpha
    exp_d2 = 2 * (a2 - y) / y.size * ACT_PRIMES[out](z2, a_out)
    np.testing.assert_allclose(d2, exp_d2, rtol=1e-12, atol=1e-15)
    exp_d1 = (d2 @ model.dense_layers[1].weights.T) * ACT_PRIMES[hidden](z1, model.dense_layers[0].alpha)
    np.testing.assert_allclose(d1, exp_d1, rtol=1e-12, atol=1e-15)


def test_alpha_validation():
    for bad in (-0.1, float("nan"), "x", True):
        with pytest.raises(ValueError):
            fm.Dense(2, 2, "leaky_relu", alpha=bad)


# ============================================================================= trace(X, y)
@pytest.mark.parametrize(
    "acts,loss,kind",
    [
        (["tanh", "relu", "softmax"], None, "cat"),
        (["sigmoid", "tanh", "sigmoid"], None, "bin"),
        (["relu", "tanh", "linear"], "mse", "reg"),
        (["tanh", "sigmoid", "softmax"], "mse", "reg_softmax"),
    ],
)
def test_trace_matches_reference(acts, loss, kind):
    rng = np.random.default_rng(15)
    X = rng.normal(size=(11, 4))
    model = dense_model([4, 6, 5, 3], acts, loss=loss, seed=6, l2=0.1)
    if kind == "cat":
        y = rng.integers(0, 3, 11)
    elif kind == "bin":
        y = rng.integers(0, 2, (11, 3))
    elif kind == "reg":
        y = rng.normal(size=(11, 3))
    else:
        y = rng.dirichlet(np.ones(3), 11)
    params = [(np.array(l.weights), np.array(l.bias)) for l in model.dense_layers]
    Y = ref.targets(y, model.loss_name, 3)
    cache, deltas = ref_deltas(params, acts, X, Y, model.loss_name)
    tr = model.trace(X, y)
    assert len(tr) == 3 and all(len(t) == 3 for t in tr)
    for (z, a, d), (rz, ra), rd in zip(tr, cache, deltas):
        np.testing.assert_allclose(z, rz, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(a, ra, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(d, rd, rtol=1e-10, atol=1e-15)
    # consistent with the gradients: dW = a_prev^T delta + l2 W
    grads = model.gradients(X, y)
    np.testing.assert_allclose(grads[1][0], tr[0][1].T @ tr[1][2] + 0.1 * params[1][0], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(grads[0][1], tr[0][2].sum(axis=0), rtol=1e-12, atol=1e-15)
    # without y: pairs
    tr2 = model.trace(X)
    assert all(len(t) == 2 for t in tr2)
    np.testing.assert_array_equal(tr2[-1][1], tr[-1][1])


def test_trace_float32_shapes():
    X, y = blobs(m=8, seed=16)
    model = dense_model([3, 5, 3], ["relu", "softmax"], dtype="float32")
    tr = model.trace(X, y)
    assert [t[2].shape for t in tr] == [(8, 5), (8, 3)]
    assert all(t[2].dtype == np.float32 for t in tr)
    with pytest.raises(ValueError):
        model.trace(X, y[:5])
