"""Issue 4: sample / class weights, weight initialisation and reproducibility. The new activations
(leaky_relu, elu, softplus) and model.trace(X, y) deltas: test_activations_trace.py; dropout:
test_dropout.py."""

import os
import subprocess
import sys

import numpy as np
import pytest

import fastmlp as fm
import reference as ref
from helpers_training import blobs, dense_model, regression


def _per_sample_ref_losses(model, X, y):
    """l_i for every sample, from the NumPy reference (each row as a batch of one)."""
    params = [(np.array(l.weights, dtype=np.float64), np.array(l.bias, dtype=np.float64)) for l in model.dense_layers]
    acts = [l.activation for l in model.dense_layers]
    Y = ref.targets(y, model.loss_name, model.n_outputs)
    return np.array(
        [ref.loss(params, acts, X[i : i + 1], Y[i : i + 1], model.loss_name) for i in range(len(X))]
    ), params


# ============================================================================= sample / class weights
@pytest.mark.parametrize("kind", ["categorical", "binary", "binary_multi", "mse"])
def test_weighted_loss_matches_numpy(kind):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(12, 3))
    if kind == "categorical":
        model, y = dense_model([3, 4, 3], ["tanh", "softmax"], l2=0.05), rng.integers(0, 3, 12)
    elif kind == "binary":
        model, y = dense_model([3, 4, 1], ["tanh", "sigmoid"], l2=0.05), rng.integers(0, 2, 12)
    elif kind == "binary_multi":
        model, y = dense_model([3, 4, 2], ["relu", "sigmoid"]), rng.integers(0, 2, (12, 2))
    else:
        model, y = dense_model([3, 4, 2], ["tanh", "linear"], l2=0.05), rng.normal(size=(12, 2))
    w = rng.uniform(0, 3, 12)
    w[3] = 0.0
    per, params = _per_sample_ref_losses(model, X, y)
    expect = (w * per).sum() / w.sum() + ref.l2_term(params, model.l2)  # L2 not divided by the weights
    assert model.loss(X, y, sample_weight=w) == pytest.approx(expect, rel=1e-12)
    assert model.loss(X, y) == pytest.approx(per.mean() + ref.l2_term(params, model.l2), rel=1e-12)
    # only relative weights matter
    assert model.loss(X, y, sample_weight=7.5 * w) == pytest.approx(expect, rel=1e-12)
    assert model.loss(X, y, sample_weight=np.ones(12)) == pytest.approx(model.loss(X, y), rel=1e-13)


@pytest.mark.parametrize("kind", ["categorical", "binary", "mse"])
def test_weight_two_equals_duplicating_the_sample(kind):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(10, 3))
    if kind == "categorical":
        make, y = (lambda: dense_model([3, 4, 3], ["tanh", "softmax"], seed=1, l2=0.01)), rng.integers(0, 3, 10)
    elif kind == "binary":
        make, y = (lambda: dense_model([3, 4, 1], ["relu", "sigmoid"], seed=1)), rng.integers(0, 2, 10)
    else:
        make, y = (lambda: dense_model([3, 4, 1], ["elu", "linear"], seed=1)), rng.normal(size=10)
    w = np.ones(10)
    w[4] = 2.0
    Xd, yd = np.vstack([X, X[4:5]]), np.concatenate([y, y[4:5]])
    a, b = make(), make()
    assert a.loss(X, y, sample_weight=w) == pytest.approx(b.loss(Xd, yd), rel=1e-13)
    for (dWa, dba), (dWb, dbb) in zip(a.gradients(X, y, sample_weight=w), b.gradients(Xd, yd)):
        np.testing.assert_allclose(dWa, dWb, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(dba, dbb, rtol=1e-12, atol=1e-15)
    ha = a.fit(X, y, epochs=3, learning_rate=0.2, sample_weight=w, optimizer=fm.SGD(0.2, momentum=0.5), batch_size=None)
    hb = b.fit(Xd, yd, epochs=3, learning_rate=0.2, optimizer=fm.SGD(0.2, momentum=0.5), batch_size=None)
    np.testing.assert_allclose(a.params, b.params, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(ha.loss, hb.loss, rtol=1e-12)


def test_zero_weight_equals_dropping_the_sample():
    X, y = blobs(m=15, seed=2)
    w = np.ones(15)
    w[[2, 7]] = 0.0
    keep = w > 0
    a, b = dense_model([3, 5, 3], ["tanh", "softmax"], seed=2), dense_model([3, 5, 3], ["tanh", "softmax"], seed=2)
    a.fit(X, y, epochs=2, learning_rate=0.3, sample_weight=w, batch_size=None)
    b.fit(X[keep], y[keep], epochs=2, learning_rate=0.3, batch_size=None)
    np.testing.assert_allclose(a.params, b.params, rtol=1e-12, atol=1e-14)


def test_weighted_minibatches_replay():
    """Mini-batches: every batch uses its own weighted mean sum w l / sum w (weights follow their rows)."""
    X, y = blobs(m=13, seed=3)
    w = np.random.default_rng(3).uniform(0.2, 2.0, 13)
    model = dense_model([3, 4, 3], ["tanh", "softmax"], seed=3)
    shadow = model.copy()
    first = model.copy()
    h = model.fit(X, y, epochs=1, batch_size=5, learning_rate=0.4, shuffle=False, sample_weight=w)
    losses = []
    for s in range(0, 13, 5):
        sl = slice(s, s + 5)
        losses.append(shadow.loss(X[sl], y[sl], sample_weight=w[sl]) * w[sl].sum())
        for layer, (dW, db) in zip(shadow.dense_layers, shadow.gradients(X[sl], y[sl], sample_weight=w[sl])):
            layer.weights = layer.weights - 0.4 * dW
            layer.bias = layer.bias - 0.4 * db
    np.testing.assert_allclose(model.params, shadow.params, rtol=1e-12, atol=1e-14)
    # the epoch loss is the weighted mean: batches count by their total weight
    assert h.loss[0] == pytest.approx(sum(losses) / w.sum(), rel=1e-12)
    assert first.loss(X[:5], y[:5], sample_weight=w[:5]) != first.loss(X[:5], y[:5])  # the weights matter


def test_weighted_fit_with_shuffle_is_consistent():
    """With shuffling each weight must travel with its row: permuting (X, y, w) together changes nothing
    for full-batch training, and the first epoch's loss is the weighted loss."""
    X, y = blobs(m=20, seed=4)
    w = np.random.default_rng(4).uniform(0.1, 3.0, 20)
    perm = np.random.default_rng(5).permutation(20)
    a, b = dense_model([3, 4, 3], ["tanh", "softmax"], seed=4), dense_model([3, 4, 3], ["tanh", "softmax"], seed=4)
    first = a.copy()
    ha = a.fit(X, y, epochs=2, learning_rate=0.3, sample_weight=w, batch_size=None)
    b.fit(X[perm], y[perm], epochs=2, learning_rate=0.3, sample_weight=w[perm], batch_size=None)
    np.testing.assert_allclose(a.params, b.params, rtol=1e-11, atol=1e-13)
    assert ha.loss[0] == pytest.approx(first.loss(X, y, sample_weight=w), rel=1e-12)


@pytest.mark.parametrize("labels", ["ids", "onehot"])
def test_class_weight_dict_equals_sample_weight(labels):
    X, y = blobs(m=30, seed=6)
    yy = y if labels == "ids" else np.eye(3)[y]
    cw = {0: 0.5, 2: 3.0}  # class 1 keeps weight 1
    sw = np.select([y == 0, y == 2], [0.5, 3.0], 1.0)
    a, b = dense_model([3, 4, 3], ["tanh", "softmax"], seed=5), dense_model([3, 4, 3], ["tanh", "softmax"], seed=5)
    ha = a.fit(X, yy, epochs=3, batch_size=7, learning_rate=0.3, class_weight=cw, seed=1)
    hb = b.fit(X, yy, epochs=3, batch_size=7, learning_rate=0.3, sample_weight=sw, seed=1)
    np.testing.assert_array_equal(a.params, b.params)
    assert ha.loss == hb.loss
    c = dense_model([3, 4, 3], ["tanh", "softmax"], seed=5)
    c.fit(X, yy, epochs=3, batch_size=7, learning_rate=0.3, seed=1)
    assert not np.array_equal(a.params, c.params)


def test_class_weight_times_sample_weight_binary():
    rng = np.random.default_rng(7)
    X = rng.normal(size=(20, 2))
    y = (X[:, 0] + 0.3 * rng.normal(size=20) > 0).astype(int)
    sw = rng.uniform(0.5, 2, 20)
    a, b = dense_model([2, 1], ["sigmoid"], seed=6), dense_model([2, 1], ["sigmoid"], seed=6)
    a.fit(X, y, epochs=3, learning_rate=0.5, class_weight={1: 4.0}, sample_weight=sw, batch_size=None)
    b.fit(X, y, epochs=3, learning_rate=0.5, sample_weight=sw * np.where(y == 1, 4.0, 1.0), batch_size=None)
    np.testing.assert_allclose(a.params, b.params, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("binary", [False, True])
def test_class_weight_balanced(binary):
    if binary:
        y = np.array([0] * 12 + [1] * 4)
        n_classes, make = 2, (lambda: dense_model([3, 1], ["sigmoid"], seed=7))
    else:
        y = np.array([0] * 10 + [1] * 5 + [2] * 3)
        n_classes, make = 3, (lambda: dense_model([3, 4, 3], ["tanh", "softmax"], seed=7))
    rng = np.random.default_rng(8)
    perm = rng.permutation(len(y))
    y = y[perm]
    X = rng.normal(size=(len(y), 3)) + y[:, None]
    counts = np.bincount(y)
    sw = len(y) / (n_classes * counts[y])
    a, b = make(), make()
    a.fit(X, y, epochs=3, learning_rate=0.3, class_weight="balanced", batch_size=None)
    b.fit(X, y, epochs=3, learning_rate=0.3, sample_weight=sw, batch_size=None)
    np.testing.assert_allclose(a.params, b.params, rtol=1e-13, atol=1e-15)


def test_weight_argument_errors():
    X, y = blobs(m=10, seed=9)
    model = dense_model([3, 3], ["softmax"])
    for bad in (np.ones(9), -np.ones(10), np.zeros(10), np.full(10, np.nan), np.ones((10, 1))):
        with pytest.raises(ValueError):
            model.fit(X, y, epochs=1, sample_weight=bad, batch_size=None)
    with pytest.raises(ValueError):
        model.loss(X, y, sample_weight=-np.ones(10))
    with pytest.raises(ValueError):
        model.fit(X, y, epochs=1, class_weight={5: 1.0}, batch_size=None)
    with pytest.raises(ValueError):
        model.fit(X, y, epochs=1, class_weight={0: -1.0}, batch_size=None)
    with pytest.raises(ValueError):
        model.fit(X, y, epochs=1, class_weight="auto", batch_size=None)
    with pytest.raises(TypeError):
        model.fit(X, y, epochs=1, class_weight=[1.0, 2.0, 3.0], batch_size=None)
    Xr, yr = regression(m=10, seed=10)
    with pytest.raises(ValueError):
        dense_model([3, 1], ["linear"]).fit(Xr, yr, epochs=1, class_weight={0: 2.0}, batch_size=None)


def test_sample_weight_with_validation_split():
    X, y = blobs(m=20, seed=11)
    w = np.random.default_rng(11).uniform(0.5, 2.0, 20)
    model = dense_model([3, 4, 3], ["tanh", "softmax"], seed=8)
    first = model.copy()
    from fastmlp.model import _split_rows

    tr, _ = _split_rows(y, 20, 0.25, model.seed)  # the rows validation_split trains on
    h = model.fit(X, y, epochs=1, validation_split=0.25, sample_weight=w, shuffle=False, batch_size=None)
    assert h.loss[0] == pytest.approx(first.loss(X[tr], y[tr], sample_weight=w[tr]), rel=1e-12)


# ============================================================================= initialisation
@pytest.mark.parametrize(
    "init,act",
    [
        ("glorot_uniform", "tanh"),
        ("glorot_normal", "tanh"),
        ("he_uniform", "relu"),
        ("he_normal", "relu"),
        ("he_normal", "sigmoid"),
        ("glorot_uniform", "relu"),
    ],
)
def test_init_variance_and_shape(init, act):
    n_in, n_out = 400, 300
    model = fm.Sequential(
        [fm.Dense(n_in, n_out, act, init=init), fm.Dense(n_out, 2, "linear")], seed=1, dtype="float64", optimizer="sgd"
    )
    W = model.dense_layers[0].weights
    var = 2.0 / n_in if init.startswith("he") else 2.0 / (n_in + n_out)
    assert W.var() == pytest.approx(var, rel=0.03)
    assert abs(W.mean()) < 0.02 * np.sqrt(var)
    kurt = ((W - W.mean()) ** 4).mean() / W.var() ** 2
    if init.endswith("uniform"):
        limit = np.sqrt(3 * var)
        assert np.abs(W).max() <= limit and np.abs(W).max() > 0.99 * limit
        assert kurt == pytest.approx(1.8, abs=0.05)
    else:
        assert kurt == pytest.approx(3.0, abs=0.15)
    np.testing.assert_array_equal(model.dense_layers[0].bias, 0.0)


@pytest.mark.parametrize(
    "act,he",
    [
        ("relu", True),
        ("leaky_relu", True),
        ("elu", True),
        ("tanh", False),
        ("sigmoid", False),
        ("linear", False),
        ("softplus", False),
        ("softmax", False),
    ],
)
def test_default_init(act, he):
    n_in, n_out = 200, 200
    model = fm.Sequential([fm.Dense(n_in, n_out, act), fm.Dense(n_out, 2, "linear")], seed=2, optimizer="sgd")
    W = model.dense_layers[0].weights
    he_limit, glorot_limit = np.sqrt(6.0 / n_in), np.sqrt(6.0 / (n_in + n_out))
    assert np.abs(W).max() <= (he_limit if he else glorot_limit) * (1 + 1e-6)
    if he:
        assert np.abs(W).max() > 1.1 * glorot_limit
        assert W.var() == pytest.approx(2.0 / n_in, rel=0.05)
    else:
        assert W.var() == pytest.approx(2.0 / (n_in + n_out), rel=0.05)


def test_init_seed_reproducible():
    def make(seed, dtype="float32"):
        return fm.Sequential(
            [
                fm.Dense(30, 20, "relu", init="he_normal"),
                fm.Dense(20, 10, "tanh"),
                fm.Dense(10, 3, "softmax", init="glorot_normal"),
            ],
            seed=seed,
            dtype=dtype,
            optimizer="sgd",
        )

    np.testing.assert_array_equal(make(5).params, make(5).params)
    assert not np.array_equal(make(5).params, make(6).params)
    # each layer draws its own numbers (not a restarted stream)
    a = make(5)
    w1, w2 = a.dense_layers[1].weights.ravel(), a.dense_layers[2].weights.ravel()
    assert not np.allclose(w1[:30] / np.abs(w1[:30]).max(), w2[:30] / np.abs(w2[:30]).max())
    # float32 and float64 draw the same numbers
    np.testing.assert_allclose(make(5).params, make(5, "float64").params, rtol=1e-6, atol=1e-7)


def test_unknown_init_rejected():
    with pytest.raises(ValueError):
        fm.Dense(3, 2, "relu", init="lecun_normal")


# ============================================================================= reproducibility
def _repro_run(dtype, seed=12):
    X, y = blobs(m=50, d=4, seed=23)
    model = fm.Sequential(
        [fm.Dense(4, 16, "relu"), fm.Dropout(0.3), fm.Dense(16, 8, "elu"), fm.Dropout(0.2), fm.Dense(8, 3, "softmax")],
        seed=seed,
        dtype=dtype,
        optimizer=fm.Adam(0.01),
    )
    h = model.fit(X, y, epochs=4, batch_size=7, shuffle=True, validation_split=0.2)
    h2 = model.fit(X, y, epochs=2, batch_size=7)  # a second call: a new (seeded) order
    return model.params.copy(), h.loss + h2.loss


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_same_seed_bit_identical_training(dtype):
    p1, l1 = _repro_run(dtype)
    p2, l2 = _repro_run(dtype)
    np.testing.assert_array_equal(p1, p2)
    assert l1 == l2
    p3, _ = _repro_run(dtype, seed=13)
    assert not np.array_equal(p1, p3)


def test_reproducible_across_processes():
    here = os.path.dirname(os.path.abspath(__file__))
    code = (
        "import sys; sys.path.insert(0, %r); import test_weights_layers as t; "
        "p, l = t._repro_run('float32'); print(p.astype('float32').tobytes().hex())" % here
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    p, _ = _repro_run("float32")
    assert out.stdout.strip() == p.astype(np.float32).tobytes().hex()


def test_thread_count_determinism():
    if not hasattr(fm, "set_num_threads"):
        pytest.skip("fm.set_num_threads does not exist yet")
    fm.set_num_threads(1)
    p1, _ = _repro_run("float32")
    fm.set_num_threads(2)
    p2, _ = _repro_run("float32")
    np.testing.assert_array_equal(p1, p2)
