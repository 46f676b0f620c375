"""Issue 4: dropout: inactive at inference, exact inverted masks per sample, seeded, rate 0,
placement and rate errors, the model's layers and parameters, gradient checks."""

import numpy as np
import pytest

import fastmlp as fm
from helpers_training import blobs


# ============================================================================= dropout
def _dropout_pair(rate=0.5, seed=7, dtype="float64"):
    drop = fm.Sequential(
        [fm.Dense(4, 8, "relu"), fm.Dropout(rate), fm.Dense(8, 6, "tanh"), fm.Dropout(rate), fm.Dense(6, 3, "softmax")],
        seed=seed,
        dtype=dtype,
        optimizer="sgd",
    )
    plain = fm.Sequential(
        [fm.Dense(4, 8, "relu"), fm.Dense(8, 6, "tanh"), fm.Dense(6, 3, "softmax")],
        seed=seed,
        dtype=dtype,
        optimizer="sgd",
    )
    plain.params[...] = drop.params
    return drop, plain


def test_dropout_inactive_at_inference():
    X, y = blobs(m=20, d=4, seed=17)
    drop, plain = _dropout_pair()
    f1 = drop.forward(X)
    np.testing.assert_array_equal(f1, drop.forward(X))
    np.testing.assert_array_equal(f1, plain.forward(X))
    np.testing.assert_array_equal(drop.predict(X), plain.predict(X))
    assert drop.loss(X, y) == plain.loss(X, y)
    for (a, b), (c, d) in zip(drop.gradients(X, y), plain.gradients(X, y)):
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, d)
    # and still after training
    drop.fit(X, y, epochs=3, batch_size=5)
    np.testing.assert_array_equal(drop.forward(X), drop.forward(X))
    plain.params[...] = drop.params
    np.testing.assert_array_equal(drop.predict_proba(X), plain.predict_proba(X))


def test_dropout_exact_inverted_masks():
    """One sample, one full-batch SGD step: units whose outgoing weights did not move were dropped;
    the fraction is ~rate and every other weight moved exactly as inverted dropout (scale 1/(1-p)) says."""
    p, h, lr = 0.3, 4000, 0.01
    rng = np.random.default_rng(18)
    x = rng.normal(size=(1, 3))
    y = np.array([0.7])
    model = fm.Sequential(
        [fm.Dense(3, h, "tanh"), fm.Dropout(p), fm.Dense(h, 1, "linear")], seed=8, dtype="float64", optimizer="sgd"
    )
    model.dense_layers[0].bias = rng.normal(size=h)
    (W1, b1), (W2, b2) = [(np.array(l.weights), np.array(l.bias)) for l in model.dense_layers]
    model.fit(x, y, epochs=1, learning_rate=lr, batch_size=None)
    W2n = np.array(model.dense_layers[1].weights)
    kept = (W2n != W2)[:, 0]
    assert abs((~kept).mean() - p) < 0.03
    mask = kept / (1 - p)
    z1 = x @ W1 + b1
    a1 = np.tanh(z1) * mask
    z2 = a1 @ W2 + b2
    d2 = 2 * (z2 - y)  # mse, m = k = 1
    d1 = (d2 @ W2.T) * mask * (1 - np.tanh(z1) ** 2)
    np.testing.assert_allclose(W2n, W2 - lr * a1.T @ d2, rtol=1e-12, atol=1e-16)
    np.testing.assert_allclose(model.dense_layers[1].bias, b2 - lr * d2.sum(0), rtol=1e-12)
    np.testing.assert_allclose(model.dense_layers[0].weights, W1 - lr * x.T @ d1, rtol=1e-12, atol=1e-16)
    np.testing.assert_allclose(model.dense_layers[0].bias, b1 - lr * d1.sum(0), rtol=1e-12, atol=1e-16)


def test_dropout_masks_are_per_sample():
    """Two samples: a unit's outgoing weight stays put only when both samples drop it (probability p^2)."""
    p, h = 0.5, 4000
    rng = np.random.default_rng(19)
    x = rng.normal(size=(2, 3))
    model = fm.Sequential(
        [fm.Dense(3, h, "tanh"), fm.Dropout(p), fm.Dense(h, 1, "linear")], seed=9, dtype="float64", optimizer="sgd"
    )
    model.dense_layers[0].bias = rng.normal(size=h)
    W2 = np.array(model.dense_layers[1].weights)
    model.fit(x, np.array([0.5, -0.5]), epochs=1, learning_rate=0.01, batch_size=None)
    still = (np.array(model.dense_layers[1].weights) == W2).mean()
    assert abs(still - p * p) < 0.03


def test_dropout_changes_training_and_is_seeded():
    X, y = blobs(m=30, d=4, seed=20)
    d1, plain = _dropout_pair(seed=10)
    d2, _ = _dropout_pair(seed=10)
    d3, _ = _dropout_pair(seed=10)
    d1.fit(X, y, epochs=3, batch_size=8, learning_rate=0.2, seed=4)
    d2.fit(X, y, epochs=3, batch_size=8, learning_rate=0.2, seed=4)
    d3.fit(X, y, epochs=3, batch_size=8, learning_rate=0.2, seed=5)
    plain.fit(X, y, epochs=3, batch_size=8, learning_rate=0.2, seed=4)
    np.testing.assert_array_equal(d1.params, d2.params)
    assert not np.array_equal(d1.params, d3.params)
    assert not np.allclose(d1.params, plain.params)


def test_dropout_rate_zero_is_no_dropout():
    X, y = blobs(m=30, d=4, seed=21)
    drop, plain = _dropout_pair(rate=0.0, seed=11)
    drop.fit(X, y, epochs=3, batch_size=8, learning_rate=0.2, seed=1)
    plain.fit(X, y, epochs=3, batch_size=8, learning_rate=0.2, seed=1)
    np.testing.assert_array_equal(drop.params, plain.params)


@pytest.mark.parametrize(
    "layers",
    [
        lambda: [fm.Dropout(0.5), fm.Dense(3, 2)],
        lambda: [fm.Dense(3, 2), fm.Dropout(0.5)],
        lambda: [fm.Dense(3, 4), fm.Dense(4, 2), fm.Dropout(0.1)],
        lambda: [fm.Dense(3, 4), fm.Dropout(0.5), fm.Dropout(0.5), fm.Dense(4, 2)],
        lambda: [fm.Dropout(0.5)],
    ],
)
def test_dropout_placement_errors(layers):
    with pytest.raises(ValueError):
        fm.Sequential(layers(), optimizer="sgd")


@pytest.mark.parametrize("rate", [1.0, -0.1, 1.5, float("nan"), "0.5", True])
def test_dropout_rate_errors(rate):
    with pytest.raises(ValueError):
        fm.Dropout(rate)


def test_dropout_model_layers_and_params():
    drop, plain = _dropout_pair()
    assert len(drop.layers) == 5 and len(drop.dense_layers) == 3
    assert drop.num_params == plain.num_params
    assert drop.n_outputs == 3


def test_check_gradients_on_dropout_model():
    X, y = blobs(m=6, d=4, seed=22)
    drop, _ = _dropout_pair()
    assert fm.check_gradients(drop, X, y) < 1e-6
