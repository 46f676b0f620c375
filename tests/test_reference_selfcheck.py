"""Self-check of the NumPy reference (no fastmlp needed).

If the oracle is wrong every comparison against it is meaningless, so the reference's
backward pass is checked against central finite differences of its own loss, and its
stable formulas against naive textbook formulas on benign inputs.
"""

import itertools
import zlib

import numpy as np
import pytest

import reference as ref

HIDDEN = [
    "linear",
    "sigmoid",
    "tanh",
    "relu",
    "leaky_relu",
    "elu",
    "softplus",
    "softmax",
    ("leaky_relu", 0.3),
    ("elu", 0.5),
]
LOSS_OUT = [
    ("categorical_crossentropy", "softmax"),
    ("binary_crossentropy", "sigmoid"),
    ("mse", "linear"),
    ("mse", "sigmoid"),
    ("mse", "tanh"),
    ("mse", "softmax"),
    ("mse", "relu"),
]


def _problem(rng, sizes, loss_name):
    m, k = 7, sizes[-1]
    X = rng.normal(size=(m, sizes[0]))
    if loss_name == "categorical_crossentropy":
        Y = ref.targets(rng.integers(0, k, size=m), loss_name, k)
    elif loss_name == "binary_crossentropy":
        Y = rng.integers(0, 2, size=(m, k)).astype(float)
    else:
        Y = rng.normal(size=(m, k))
    return X, Y


@pytest.mark.parametrize("hidden", HIDDEN, ids=lambda g: f"{g[0]}({g[1]})" if isinstance(g, tuple) else None)
@pytest.mark.parametrize("loss_name,out_act", LOSS_OUT)
@pytest.mark.parametrize("l2", [0.0, 0.3])
def test_reference_backward_matches_finite_differences(hidden, loss_name, out_act, l2):
    rng = np.random.default_rng(zlib.crc32(f"{hidden}{loss_name}{out_act}{l2}".encode()))
    sizes = [4, 5, 3, 3]
    params = ref.init_params(sizes, rng)
    acts = [hidden, hidden, out_act]
    X, Y = _problem(rng, sizes, loss_name)
    bp = ref.backward(params, acts, X, Y, loss_name, l2)
    fd = ref.numerical_gradients(params, acts, X, Y, loss_name, l2)
    for (dW, db), (nW, nb) in zip(bp, fd):
        np.testing.assert_allclose(dW, nW, rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(db, nb, rtol=1e-6, atol=1e-8)


def test_backward_is_not_trivially_zero():
    rng = np.random.default_rng(0)
    params = ref.init_params([3, 4, 2], rng)
    X, Y = _problem(rng, [3, 4, 2], "mse")
    grads = ref.backward(params, ["tanh", "linear"], X, Y, "mse")
    assert all(np.abs(dW).max() > 1e-3 for dW, _ in grads)


def test_stable_losses_equal_naive_formulas():
    rng = np.random.default_rng(1)
    z = rng.normal(size=(6, 3))
    Yb = rng.integers(0, 2, size=(6, 3)).astype(float)
    p = 1 / (1 + np.exp(-z))
    naive_bce = np.mean(-(Yb * np.log(p) + (1 - Yb) * np.log(1 - p)))
    assert ref.bce_from_logits(z, Yb) == pytest.approx(naive_bce, rel=1e-12)

    Yc = ref.targets(rng.integers(0, 3, size=6), "categorical_crossentropy", 3)
    s = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    naive_cce = np.mean(-(Yc * np.log(s)).sum(axis=1))
    assert ref.cce_from_logits(z, Yc) == pytest.approx(naive_cce, rel=1e-12)
    np.testing.assert_allclose(ref.softmax(z), s, rtol=1e-13)

    a = rng.normal(size=(6, 3))
    assert ref.mse(a, Yb) == pytest.approx(np.sum((a - Yb) ** 2) / 18, rel=1e-13)


def test_softmax_jvp_equals_explicit_jacobian():
    rng = np.random.default_rng(2)
    z = rng.normal(size=(4, 5))
    dA = rng.normal(size=(4, 5))
    a = ref.softmax(z)
    for i in range(4):
        Jac = np.diag(a[i]) - np.outer(a[i], a[i])  # da_k/dz_j
        np.testing.assert_allclose(ref.softmax_jvp(a[i : i + 1], dA[i : i + 1])[0], dA[i] @ Jac, rtol=1e-12, atol=1e-15)


def test_sigmoid_is_two_class_softmax():
    z = np.linspace(-8, 8, 17).reshape(-1, 1)
    two = np.hstack([np.zeros_like(z), z])
    np.testing.assert_allclose(ref.softmax(two)[:, 1:], ref.sigmoid(z), rtol=1e-13)


@pytest.mark.parametrize(
    "name", ["linear", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "softplus", ("leaky_relu", 0.3), ("elu", 0.5)]
)
def test_activation_derivatives_finite_difference(name):
    z = np.array([-3.0, -1.2, -0.3, 0.4, 1.1, 2.5])
    eps = 1e-6
    fd = (ref.activation(name, z + eps) - ref.activation(name, z - eps)) / (2 * eps)
    np.testing.assert_allclose(ref.activation_prime(name, z), fd, rtol=1e-7, atol=1e-9)


def test_parametrised_activation_values():
    z = np.array([-2.0, -0.5, 0.5, 3.0])
    np.testing.assert_allclose(ref.activation("leaky_relu", z), [-0.02, -0.005, 0.5, 3.0])
    np.testing.assert_allclose(ref.activation(("leaky_relu", 0.2), z), [-0.4, -0.1, 0.5, 3.0])
    np.testing.assert_allclose(ref.activation("elu", z), [np.exp(-2) - 1, np.exp(-0.5) - 1, 0.5, 3.0])
    np.testing.assert_allclose(ref.activation(("elu", 2.0), z)[:2], 2 * (np.exp([-2, -0.5]) - 1))
    np.testing.assert_allclose(ref.activation("softplus", z), np.log(1 + np.exp(z)), rtol=1e-14)
    assert np.isfinite(ref.softplus(np.array([1000.0, -1000.0]))).all()


def test_step_and_stable_extremes():
    z = np.array([[-2.0, 0.0, 3.0]])
    np.testing.assert_array_equal(ref.step(z), [[0, 1, 1]])
    np.testing.assert_array_equal(ref.step_prime(z), 0)
    big = np.array([[1000.0, 0.0, -1000.0]])
    s = ref.softmax(big)
    assert np.all(np.isfinite(s)) and s[0, 0] == pytest.approx(1.0)
    assert np.all(np.isfinite(ref.sigmoid(big)))
    assert np.isfinite(ref.bce_from_logits(big, np.array([[0.0, 1.0, 1.0]])))


def test_sgd_epoch_full_batch_equals_one_step():
    rng = np.random.default_rng(3)
    params = ref.init_params([3, 4, 2], rng)
    acts = ["sigmoid", "softmax"]
    X, Y = _problem(rng, [3, 4, 2], "categorical_crossentropy")
    new, J = ref.sgd_epoch(params, acts, X, Y, "categorical_crossentropy", 0.5)
    step = ref.sgd_step(params, acts, X, Y, "categorical_crossentropy", 0.5)
    assert J == pytest.approx(ref.loss(params, acts, X, Y, "categorical_crossentropy"))
    for (W1, b1), (W2, b2) in zip(new, step):
        np.testing.assert_array_equal(W1, W2)
        np.testing.assert_array_equal(b1, b2)
    # and a step of gradient descent with a small rate decreases J
    assert ref.loss(new, acts, X, Y, "categorical_crossentropy") < J


def test_combinations_cover_depths():
    # the reference supports depth 1..4 with any mix of activations
    rng = np.random.default_rng(4)
    for depth in range(1, 5):
        sizes = [3] + [4] * (depth - 1) + [2]
        for acts in itertools.islice(itertools.product(HIDDEN, repeat=depth - 1), 3):
            acts = list(acts) + ["linear"]
            params = ref.init_params(sizes, rng)
            X, Y = _problem(rng, sizes, "mse")
            bp = ref.backward(params, acts, X, Y, "mse", 0.1)
            fd = ref.numerical_gradients(params, acts, X, Y, "mse", 0.1)
            for (dW, db), (nW, nb) in zip(bp, fd):
                np.testing.assert_allclose(dW, nW, rtol=1e-6, atol=1e-8)
                np.testing.assert_allclose(db, nb, rtol=1e-6, atol=1e-8)
