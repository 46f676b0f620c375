"""fastmlp against the independent NumPy reference (tests/reference.py).

Forward pass, trace (z, a per layer), loss (incl. L2) and every gradient, for depths 1-4,
every activation in hidden layers, every loss with a compatible output activation, in
float32 and float64; plus plain-SGD steps, label formats, prediction helpers and init.
"""

import zlib

import numpy as np
import pytest

import fastmlp as fm
import reference as ref
from helpers import acts_of, build, get_params, make_labels, set_params

HIDDEN = ["linear", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "softplus", "softmax", "step"]
KINKED = ("relu", "leaky_relu", "step")
LOSS_OUT = [
    ("categorical_crossentropy", "softmax"),
    ("binary_crossentropy", "sigmoid"),
    ("mse", "linear"),
    ("mse", "sigmoid"),
    ("mse", "tanh"),
    ("mse", "relu"),
    ("mse", "softmax"),
]
SHORT = {"categorical_crossentropy": "cce", "binary_crossentropy": "bce", "mse": "mse"}
TOL = {
    "float64": dict(rtol=1e-10, atol_rel=1e-11, atol_abs=1e-13),
    "float32": dict(rtol=1e-4, atol_rel=1e-5, atol_abs=1e-6),
}


def _cases():
    cases = []
    for loss_name, out in LOSS_OUT:
        cases.append(((), loss_name, out))
        for depth in (2, 3, 4):
            for h in HIDDEN:
                cases.append(((h,) * (depth - 1), loss_name, out))
    # mixed hidden activations
    for hs in [
        ("relu", "tanh", "sigmoid"),
        ("softmax", "linear", "relu"),
        ("tanh", "softmax"),
        ("sigmoid", "relu"),
        ("linear", "step", "tanh"),
        (("leaky_relu", 0.2), ("elu", 0.5), "softplus"),
        (("elu", 2.0),),
    ]:
        for loss_name, out in LOSS_OUT[:3]:
            cases.append((hs, loss_name, out))
    out = []
    for hidden, loss_name, out_act in cases:
        for dtype in ("float64", "float32"):
            names = "+".join(g if isinstance(g, str) else f"{g[0]}({g[1]})" for g in hidden)
            cid = f"d{len(hidden) + 1}-{names or 'none'}-{SHORT[loss_name]}/{out_act}-{dtype[-2:]}"
            out.append(pytest.param(hidden, loss_name, out_act, dtype, id=cid))
    return out


CASES = _cases()


def assert_close(actual, expected, dtype, what):
    t = TOL[dtype]
    expected = np.asarray(expected, dtype=np.float64)
    actual = np.asarray(actual)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    scale = float(np.abs(expected).max()) if expected.size else 0.0
    np.testing.assert_allclose(
        actual.astype(np.float64), expected, rtol=t["rtol"], atol=t["atol_abs"] + t["atol_rel"] * scale, err_msg=what
    )


def make_problem(hidden, loss_name, out_act, dtype):
    """Deterministic random problem; parameters and X rounded to dtype so that the
    float64 reference sees exactly the numbers the library sees."""
    key = f"{hidden}{loss_name}{out_act}"
    rng = np.random.default_rng(zlib.crc32(key.encode()))
    depth = len(hidden) + 1
    if loss_name == "categorical_crossentropy":
        k = int(rng.integers(2, 5))
    else:
        k = int(rng.choice([1, 3]))
    sizes = [int(rng.integers(1, 6))] + [int(rng.integers(1, 6)) for _ in range(depth - 1)] + [k]
    m = int(rng.choice([1, 2, 9, 16]))
    l2 = float(rng.choice([0.0, 0.05]))
    acts = list(hidden) + [out_act]
    np_dtype = np.dtype(dtype)
    params = [
        (W.astype(np_dtype).astype(np.float64), b.astype(np_dtype).astype(np.float64))
        for W, b in ref.init_params(sizes, rng, scale=1.0)
    ]
    # keep pre-activations of kinked units (relu, leaky_relu, step) away from 0 so that float32
    # rounding cannot flip a branch
    for _ in range(200):
        X = rng.normal(size=(m, sizes[0])).astype(np_dtype).astype(np.float64)
        cache = ref.forward(params, acts, X)
        if all(np.abs(z).min() > 1e-3 for (z, _), g in zip(cache, acts) if ref._split(g)[0] in KINKED):
            break
    else:  # pragma: no cover
        raise RuntimeError("could not draw a well-conditioned problem")
    y, Y = make_labels(rng, loss_name, m, k)
    model = build(sizes, acts, loss=loss_name, dtype=dtype, seed=1, l2=l2)
    set_params(model, params)
    return model, params, acts, X.astype(np_dtype), y, Y, l2


@pytest.mark.parametrize("hidden,loss_name,out_act,dtype", CASES)
def test_forward_and_trace_match_reference(hidden, loss_name, out_act, dtype):
    model, params, acts, X, y, Y, l2 = make_problem(hidden, loss_name, out_act, dtype)
    cache = ref.forward(params, acts, X.astype(np.float64))
    out = model.forward(X)
    assert out.dtype == np.dtype(dtype)
    assert_close(out, cache[-1][1], dtype, "forward")
    tr = model.trace(X)
    assert len(tr) == len(acts)
    for l, ((z, a), (rz, ra)) in enumerate(zip(tr, cache)):
        assert_close(z, rz, dtype, f"trace z[{l}]")
        assert_close(a, ra, dtype, f"trace a[{l}]")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("rows", [1, 2, 4])
@pytest.mark.parametrize("n_in,n_out", [(1, 1), (3, 2), (9, 8), (130, 10), (257, 16), (784, 1)])
def test_few_rows_and_outputs_match_reference(n_in, n_out, rows, dtype):
    """A product with at most 4 rows and one SIMD vector of outputs (a classifier's last layer on one
    sample, a regressor's single output) sums k in four interleaved partial sums: still the reference's
    numbers, and close to the same rows computed inside a large batch."""
    rng = np.random.default_rng(n_in * 100 + n_out)
    params = [
        (W.astype(dtype).astype(np.float64), b.astype(dtype).astype(np.float64))
        for W, b in ref.init_params([n_in, n_out], rng, scale=1.0)
    ]
    model = build([n_in, n_out], ["linear"], loss="mse", dtype=dtype)
    set_params(model, params)
    X = rng.normal(size=(rows, n_in)).astype(dtype)
    out = model.forward(X)
    assert_close(out, ref.forward(params, ["linear"], X.astype(np.float64))[-1][1], dtype, "forward")
    batch = model.forward(np.vstack([X, rng.normal(size=(40, n_in)).astype(dtype)]))[:rows]
    assert_close(out, batch.astype(np.float64), dtype, "same rows in a batch of 44")


@pytest.mark.parametrize("hidden,loss_name,out_act,dtype", CASES)
def test_loss_and_gradients_match_reference(hidden, loss_name, out_act, dtype):
    model, params, acts, X, y, Y, l2 = make_problem(hidden, loss_name, out_act, dtype)
    X64 = X.astype(np.float64)
    J = model.loss(X, y)
    assert isinstance(J, float)
    rJ = ref.loss(params, acts, X64, Y, loss_name, l2)
    t = TOL[dtype]
    assert J == pytest.approx(rJ, rel=t["rtol"], abs=t["atol_abs"])
    grads = model.gradients(X, y)
    rgrads, rdeltas = ref.backward_with_deltas(params, acts, X64, Y, loss_name, l2)
    assert len(grads) == len(rgrads)
    for l, ((dW, db), (rdW, rdb)) in enumerate(zip(grads, rgrads)):
        assert_close(dW, rdW, dtype, f"dW[{l}]")
        assert_close(db, rdb, dtype, f"db[{l}]")
    # trace(X, y): (z, a, delta) with delta = dJ/dz per layer
    tr = model.trace(X, y)
    assert len(tr) == len(acts) and all(len(triple) == 3 for triple in tr)
    for l, ((_, _, d), rd) in enumerate(zip(tr, rdeltas)):
        assert_close(d, rd, dtype, f"delta[{l}]")


# ------------------------------------------------------------------------------------
# parameters: views, round trip, initialisation
# ------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_parameter_round_trip_and_dtype(dtype):
    rng = np.random.default_rng(5)
    model = build([3, 4, 2], ["tanh", "softmax"], dtype=dtype)
    assert model.dtype == np.dtype(dtype)
    params = ref.init_params([3, 4, 2], rng)
    set_params(model, params)
    for layer, (W, b) in zip(model.layers, params):
        assert layer.weights.shape == W.shape and layer.bias.shape == b.shape
        assert layer.weights.dtype == np.dtype(dtype) and layer.bias.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(layer.weights, W.astype(dtype))
        np.testing.assert_array_equal(layer.bias, b.astype(dtype))


def test_numpy_dtype_objects_accepted():
    assert build([2, 1], ["sigmoid"], dtype=np.float32).dtype == np.float32
    assert build([2, 1], ["sigmoid"], dtype=np.float64).dtype == np.float64


def test_default_dtype_is_float32():
    m = fm.Sequential([fm.Dense(2, 1, activation="sigmoid")], seed=0)
    assert m.dtype == np.float32


def test_weight_views_are_live_and_writable():
    model = build([2, 3, 1], ["tanh", "linear"], loss="mse")
    X = np.array([[0.5, -1.0], [2.0, 0.25]])
    before = model.forward(X).copy()
    model.layers[1].weights[0, 0] += 1.0  # in-place edit of the view
    model.layers[1].bias[...] = 0.5
    after = model.forward(X)
    params = get_params(model)
    expected = ref.forward(params, ["tanh", "linear"], X)[-1][1]
    np.testing.assert_allclose(after, expected, rtol=1e-12)
    assert not np.allclose(before, after)


def test_gradients_are_copies():
    rng = np.random.default_rng(0)
    model = build([3, 2], ["linear"], loss="mse")
    X, y = rng.normal(size=(4, 3)), rng.normal(size=(4, 2))
    W_before = model.layers[0].weights.copy()
    g1 = model.gradients(X, y)
    g1[0][0][...] = 123.0  # scribble on the returned arrays
    g1[0][1][...] = 123.0
    g2 = model.gradients(X, y)
    assert not np.any(g2[0][0] == 123.0) and not np.any(g2[0][1] == 123.0)
    np.testing.assert_array_equal(model.layers[0].weights, W_before)
    ((z1, a1),) = model.trace(X)
    a1[...] = 7.0
    assert not np.any(model.forward(X) == 7.0)


@pytest.mark.parametrize("act", ["tanh", "sigmoid", "relu", "linear", "leaky_relu", "elu", "softplus", "softmax"])
def test_initialisation_glorot_he_and_zero_bias(act):
    n_in, n_out = 30, 20
    model = build([n_in, n_out], [act], loss="mse", seed=123)
    W, b = get_params(model)[0]
    he = act in ("relu", "leaky_relu", "elu")
    limit = np.sqrt(6.0 / n_in) if he else np.sqrt(6.0 / (n_in + n_out))
    assert np.all(np.abs(W) <= limit * (1 + 1e-6))
    # uniform on [-limit, limit]: max close to limit, std close to limit/sqrt(3)
    assert np.abs(W).max() > 0.9 * limit
    assert W.std() == pytest.approx(limit / np.sqrt(3), rel=0.15)
    np.testing.assert_array_equal(b, 0.0)


def test_seed_determinism():
    p1 = get_params(build([4, 5, 3], ["relu", "softmax"], seed=7))
    p2 = get_params(build([4, 5, 3], ["relu", "softmax"], seed=7))
    p3 = get_params(build([4, 5, 3], ["relu", "softmax"], seed=8))
    for (W1, _), (W2, _) in zip(p1, p2):
        np.testing.assert_array_equal(W1, W2)
    assert not np.array_equal(p1[0][0], p3[0][0])


def test_model_attributes_and_loss_inference():
    m = build([4, 6, 3], ["relu", "softmax"])
    assert m.loss_name == "categorical_crossentropy"
    assert m.n_features_in == 4 and m.n_outputs == 3
    assert len(m.layers) == 2
    assert (m.layers[0].n_in, m.layers[0].n_out, m.layers[0].activation) == (4, 6, "relu")
    assert build([4, 1], ["sigmoid"]).loss_name == "binary_crossentropy"
    assert build([4, 2], ["linear"]).loss_name == "mse"
    assert build([4, 2], ["tanh"]).loss_name == "mse"
    assert build([4, 2], ["softmax"], loss="mse").loss_name == "mse"


# ------------------------------------------------------------------------------------
# labels
# ------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_integer_and_one_hot_labels_agree(dtype):
    rng = np.random.default_rng(11)
    model = build([5, 4, 3], ["tanh", "softmax"], dtype=dtype, seed=3, l2=0.01)
    X = rng.normal(size=(12, 5)).astype(dtype)
    ids = rng.integers(0, 3, size=12)
    onehot = np.eye(3)[ids]
    t = TOL[dtype]
    assert model.loss(X, ids) == pytest.approx(model.loss(X, onehot), rel=t["rtol"])
    for (a, b), (c, d) in zip(model.gradients(X, ids), model.gradients(X, onehot)):
        np.testing.assert_allclose(a, c, rtol=t["rtol"], atol=1e-7)
        np.testing.assert_allclose(b, d, rtol=t["rtol"], atol=1e-7)
    # other integer dtypes and lists also work
    assert model.loss(X, ids.astype(np.int32)) == pytest.approx(model.loss(X, ids), rel=1e-6)
    assert model.loss(X, ids.tolist()) == pytest.approx(model.loss(X, ids), rel=1e-6)
    # and the value is the reference's
    params = get_params(model)
    rJ = ref.loss(
        params,
        ["tanh", "softmax"],
        X.astype(np.float64),
        ref.targets(ids, "categorical_crossentropy", 3),
        "categorical_crossentropy",
        0.01,
    )
    assert model.loss(X, ids) == pytest.approx(rJ, rel=t["rtol"])


def test_categorical_probability_targets():
    rng = np.random.default_rng(12)
    model = build([3, 4], ["softmax"], seed=0)
    X = rng.normal(size=(6, 3))
    Y = ref.softmax(rng.normal(size=(6, 4)))  # soft targets, rows sum to 1
    params = get_params(model)
    assert model.loss(X, Y) == pytest.approx(ref.loss(params, ["softmax"], X, Y, "categorical_crossentropy"), rel=1e-10)
    dW, db = model.gradients(X, Y)[0]
    rdW, rdb = ref.backward(params, ["softmax"], X, Y, "categorical_crossentropy")[0]
    np.testing.assert_allclose(dW, rdW, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(db, rdb, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("k", [1, 3])
def test_binary_soft_labels_and_shapes(k):
    rng = np.random.default_rng(13)
    model = build([3, 5, k], ["relu", "sigmoid"], seed=2)
    X = rng.normal(size=(8, 3))
    y, Y = make_labels(rng, "binary_crossentropy", 8, k, soft=True)
    params = get_params(model)
    assert model.loss(X, y) == pytest.approx(
        ref.loss(params, ["relu", "sigmoid"], X, Y, "binary_crossentropy"), rel=1e-10
    )
    if k == 1:  # (m,) and (m, 1) labels are the same thing
        assert model.loss(X, y.reshape(-1, 1)) == pytest.approx(model.loss(X, y), rel=1e-12)


def test_array_like_and_non_contiguous_inputs():
    rng = np.random.default_rng(14)
    model = build([3, 4, 2], ["sigmoid", "linear"], loss="mse", seed=0)
    X = rng.normal(size=(5, 3))
    y = rng.normal(size=(5, 2))
    base = model.forward(X)
    np.testing.assert_allclose(model.forward(X.tolist()), base, rtol=1e-15)
    np.testing.assert_allclose(model.forward(np.asfortranarray(X)), base, rtol=1e-15)
    Xbig = np.zeros((5, 6))
    Xbig[:, ::2] = X
    np.testing.assert_allclose(model.forward(Xbig[:, ::2]), base, rtol=1e-15)
    np.testing.assert_allclose(model.forward(X.astype(np.float32)), base, rtol=1e-6)
    assert model.loss(X, y.tolist()) == pytest.approx(model.loss(X, y), rel=1e-15)
    Xi = rng.integers(-3, 3, size=(5, 3))
    np.testing.assert_allclose(model.forward(Xi), model.forward(Xi.astype(np.float64)), rtol=1e-15)


# ------------------------------------------------------------------------------------
# L2
# ------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_l2_term_and_its_gradient(dtype):
    rng = np.random.default_rng(15)
    lam = 0.3
    a = build([4, 5, 3], ["tanh", "softmax"], dtype=dtype, seed=9, l2=0.0)
    b = build([4, 5, 3], ["tanh", "softmax"], dtype=dtype, seed=9, l2=lam)
    X = rng.normal(size=(10, 4)).astype(dtype)
    ids = rng.integers(0, 3, size=10)
    params = get_params(a)
    penalty = 0.5 * lam * sum((W**2).sum() for W, _ in params)  # not divided by m
    t = TOL[dtype]
    assert b.loss(X, ids) - a.loss(X, ids) == pytest.approx(penalty, rel=10 * t["rtol"])
    for (W, _), (dWa, dba), (dWb, dbb) in zip(params, a.gradients(X, ids), b.gradients(X, ids)):
        np.testing.assert_allclose(dWb - dWa, lam * W, rtol=10 * t["rtol"], atol=10 * t["atol_abs"])
        np.testing.assert_allclose(dbb, dba, rtol=t["rtol"], atol=t["atol_abs"])  # biases free


# ------------------------------------------------------------------------------------
# plain SGD
# ------------------------------------------------------------------------------------
SGD_CASES = [
    ([4, 6, 3], ["tanh", "softmax"], "categorical_crossentropy"),
    ([3, 5, 1], ["relu", "sigmoid"], "binary_crossentropy"),
    ([2, 4, 4, 2], ["sigmoid", "tanh", "linear"], "mse"),
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("sizes,acts,loss_name", SGD_CASES)
def test_one_full_batch_sgd_step(sizes, acts, loss_name, dtype):
    rng = np.random.default_rng(16)
    l2 = 0.01
    model = build(sizes, acts, loss=loss_name, dtype=dtype, seed=4, l2=l2)
    X = rng.normal(size=(11, sizes[0])).astype(dtype)
    y, Y = make_labels(rng, loss_name, 11, sizes[-1])
    params = get_params(model)
    lr = 0.7
    hist = model.fit(X, y, epochs=1, batch_size=None, learning_rate=lr, shuffle=False)
    expected = ref.sgd_step(params, acts, X.astype(np.float64), Y, loss_name, lr, l2)
    for l, ((W, b), (rW, rb)) in enumerate(zip(get_params(model), expected)):
        assert_close(W, rW, dtype, f"W[{l}] after one step")
        assert_close(b, rb, dtype, f"b[{l}] after one step")
    assert hist.epochs == 1
    assert len(hist.loss) == 1
    assert hist.loss[0] == pytest.approx(
        ref.loss(params, acts, X.astype(np.float64), Y, loss_name, l2), rel=TOL[dtype]["rtol"]
    )


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_wide_layer_bias_gradient_and_sgd_step(dtype):
    """A layer wider than 256 units: the bias gradient 1^T delta is summed in column chunks of 256, both
    for gradients() and inside the fused SGD update."""
    rng = np.random.default_rng(18)
    sizes, acts, loss_name = [6, 300, 3], ["tanh", "softmax"], "categorical_crossentropy"
    params = [
        (W.astype(dtype).astype(np.float64), b.astype(dtype).astype(np.float64))
        for W, b in ref.init_params(sizes, rng, scale=0.5)
    ]
    model = build(sizes, acts, loss=loss_name, dtype=dtype)
    set_params(model, params)
    X = rng.normal(size=(40, sizes[0])).astype(dtype)
    y, Y = make_labels(rng, loss_name, 40, sizes[-1])
    rgrads, _ = ref.backward_with_deltas(params, acts, X.astype(np.float64), Y, loss_name, 0.0)
    for l, ((dW, db), (rdW, rdb)) in enumerate(zip(model.gradients(X, y), rgrads)):
        assert_close(dW, rdW, dtype, f"dW[{l}]")
        assert_close(db, rdb, dtype, f"db[{l}]")
    model.fit(X, y, epochs=1, batch_size=None, learning_rate=0.3, shuffle=False)
    expected = ref.sgd_step(params, acts, X.astype(np.float64), Y, loss_name, 0.3, 0.0)
    for l, ((W, b), (rW, rb)) in enumerate(zip(get_params(model), expected)):
        assert_close(W, rW, dtype, f"W[{l}] after one step")
        assert_close(b, rb, dtype, f"b[{l}] after one step")


@pytest.mark.parametrize("batch_size", [None, 4, 11, 100])
def test_minibatch_epochs_in_order(batch_size):
    rng = np.random.default_rng(17)
    sizes, acts, loss_name = SGD_CASES[0]
    model = build(sizes, acts, loss=loss_name, dtype="float64", seed=5, l2=0.02)
    X = rng.normal(size=(11, sizes[0]))
    y, Y = make_labels(rng, loss_name, 11, sizes[-1])
    params = get_params(model)
    hist = model.fit(X, y, epochs=3, batch_size=batch_size, learning_rate=0.3, shuffle=False)
    losses = []
    for _ in range(3):
        params, J = ref.sgd_epoch(params, acts, X, Y, loss_name, 0.3, batch_size, 0.02)
        losses.append(J)
    for (W, b), (rW, rb) in zip(get_params(model), params):
        np.testing.assert_allclose(W, rW, rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(b, rb, rtol=1e-10, atol=1e-13)
    assert hist.epochs == 3
    np.testing.assert_allclose(hist.loss, losses, rtol=1e-10)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("l2", [0.0, 0.02])
def test_batch_one_epoch_matches_reference(dtype, l2):
    # Batch 1 takes the one-pass update (gemm.hpp: sgd_rank1); widths 37 and 19 cover its whole
    # vectors, pairs of vectors and the masked tail on every SIMD level.
    rng = np.random.default_rng(19)
    sizes, acts = [20, 37, 19, 5], ["relu", "tanh", "softmax"]
    model = build(sizes, acts, dtype=dtype, seed=6, l2=l2)
    X = rng.normal(size=(7, sizes[0])).astype(dtype)
    y, Y = make_labels(rng, "categorical_crossentropy", 7, sizes[-1])
    params = get_params(model)
    hist = model.fit(X, y, epochs=2, batch_size=1, learning_rate=0.1, shuffle=False)
    losses = []
    for _ in range(2):
        params, J = ref.sgd_epoch(params, acts, X.astype(np.float64), Y, "categorical_crossentropy", 0.1, 1, l2)
        losses.append(J)
    for l, ((W, b), (rW, rb)) in enumerate(zip(get_params(model), params)):
        assert_close(W, rW, dtype, f"W[{l}] after two batch-1 epochs")
        assert_close(b, rb, dtype, f"b[{l}] after two batch-1 epochs")
    np.testing.assert_allclose(hist.loss, losses, rtol=TOL[dtype]["rtol"])


def test_shuffle_with_seed_is_reproducible_and_differs_from_ordered():
    rng = np.random.default_rng(18)
    X = rng.normal(size=(20, 3))
    y = rng.integers(0, 2, size=20)
    runs = []
    for shuffle in (True, True, False):
        m = build([3, 4, 2], ["tanh", "softmax"], seed=1)
        m.fit(X, y, epochs=2, batch_size=5, learning_rate=0.5, shuffle=shuffle, seed=42)
        runs.append(get_params(m)[0][0])
    np.testing.assert_array_equal(runs[0], runs[1])
    assert not np.allclose(runs[0], runs[2])


def test_training_reduces_loss_and_history():
    rng = np.random.default_rng(19)
    X = rng.normal(size=(50, 2))
    y = (X[:, 0] * X[:, 1] > 0).astype(int)
    m = build([2, 8, 2], ["tanh", "softmax"], seed=3)
    h = m.fit(X, y, epochs=200, learning_rate=0.5, shuffle=False)
    assert h.epochs == 200 and len(h.loss) == 200
    assert all(isinstance(v, float) for v in h.loss)
    assert h.loss[-1] < 0.5 * h.loss[0]
    assert m.loss(X, y) < h.loss[0]


def test_tol_stops_early():
    rng = np.random.default_rng(20)
    X = rng.normal(size=(30, 2))
    y = X @ np.array([1.0, -2.0])
    m = build([2, 1], ["linear"], loss="mse", seed=0)
    h = m.fit(X, y, epochs=1000, learning_rate=0.1, tol=1e-6, shuffle=False)
    assert 2 <= h.epochs < 1000
    assert len(h.loss) == h.epochs
    assert abs(h.loss[-1] - h.loss[-2]) < 1e-6
    assert all(abs(a - b) >= 1e-6 for a, b in zip(h.loss[:-2], h.loss[1:-1]))


def test_callback_can_stop_and_sees_losses():
    """callback(epoch, logs) with logs["loss"]; returning False stops (None/True continue)."""
    rng = np.random.default_rng(21)
    X = rng.normal(size=(16, 3))
    y = rng.integers(0, 3, size=16)
    seen = []

    def cb(epoch, logs):
        seen.append((epoch, logs["loss"]))
        return None if len(seen) < 4 else False

    m = build([3, 5, 3], ["relu", "softmax"], seed=0)
    h = m.fit(X, y, epochs=50, learning_rate=0.1, callback=cb)
    assert h.epochs == 4 and len(seen) == 4
    np.testing.assert_allclose([l for _, l in seen], h.loss, rtol=1e-6)
    epochs = [e for e, _ in seen]
    assert all(isinstance(e, int) for e in epochs)
    assert np.all(np.diff(epochs) == 1)

    seen.clear()
    h = m.fit(X, y, epochs=5, learning_rate=0.1, callback=lambda e, logs: seen.append(logs) or True)
    assert h.epochs == 5 and len(seen) == 5


def test_fit_defaults_and_verbose(capsys):
    rng = np.random.default_rng(25)
    X = rng.normal(size=(8, 2))
    y = rng.integers(0, 2, size=8)
    m = build([2, 1], ["sigmoid"], seed=0)
    h = m.fit(X, y, learning_rate=0.1)
    assert h.epochs == 100 and len(h.loss) == 100  # epochs=100 by default
    capsys.readouterr()
    m.fit(X, y, epochs=3, learning_rate=0.1)
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""  # quiet by default
    m.fit(X, y, epochs=3, learning_rate=0.1, verbose=True)
    out = capsys.readouterr()
    assert "loss" in (out.out + out.err)


# ------------------------------------------------------------------------------------
# predict / predict_proba / accuracy
# ------------------------------------------------------------------------------------
def test_predict_categorical():
    rng = np.random.default_rng(22)
    m = build([4, 6, 3], ["tanh", "softmax"], seed=1)
    X = rng.normal(size=(30, 4))
    P = ref.predict_output(get_params(m), acts_of(m), X)
    pred = m.predict(X)
    assert pred.shape == (30,) and pred.dtype == np.int64
    np.testing.assert_array_equal(pred, P.argmax(axis=1))
    np.testing.assert_allclose(m.predict_proba(X), P, rtol=1e-12)
    ids = rng.integers(0, 3, size=30)
    assert m.accuracy(X, ids) == pytest.approx(np.mean(P.argmax(axis=1) == ids))


def test_predict_binary_single_and_multi_output():
    rng = np.random.default_rng(23)
    X = rng.normal(size=(25, 3))
    m1 = build([3, 4, 1], ["relu", "sigmoid"], seed=2)
    m1.layers[1].bias[...] = 0.05  # keep p away from exactly 0.5
    p = ref.predict_output(get_params(m1), acts_of(m1), X)[:, 0]
    pred = m1.predict(X)
    assert pred.shape == (25,)
    np.testing.assert_array_equal(pred, (p >= 0.5).astype(int))
    proba = m1.predict_proba(X)
    assert proba.shape == (25, 2)
    np.testing.assert_allclose(proba, np.stack([1 - p, p], axis=1), rtol=1e-12, atol=1e-15)
    y = rng.integers(0, 2, size=25)
    assert m1.accuracy(X, y) == pytest.approx(np.mean((p >= 0.5) == y))

    m3 = build([3, 3], ["sigmoid"], seed=3)
    P = ref.predict_output(get_params(m3), acts_of(m3), X)
    assert m3.predict(X).shape == (25, 3)
    np.testing.assert_array_equal(m3.predict(X), (P >= 0.5).astype(int))
    np.testing.assert_allclose(m3.predict_proba(X), P, rtol=1e-12)


def test_predict_regression_and_no_proba():
    rng = np.random.default_rng(24)
    X = rng.normal(size=(9, 2))
    m = build([2, 3, 1], ["tanh", "linear"], loss="mse", seed=0)
    out = ref.predict_output(get_params(m), acts_of(m), X)
    pred = m.predict(X)
    assert pred.shape == (9,)
    np.testing.assert_allclose(pred, out[:, 0], rtol=1e-12)
    m2 = build([2, 3, 2], ["tanh", "linear"], loss="mse", seed=0)
    assert m2.predict(X).shape == (9, 2)
    with pytest.raises(TypeError):
        m.predict_proba(X)
