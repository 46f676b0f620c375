"""fm.Normalization (issue 26, deliverable 1): Keras's preprocessing layer inside the model.

Its statistics against NumPy and scikit-learn's StandardScaler (constant columns included), adapt
over chunked sources, the first layer (training equals training on StandardScaler's output) and
the inverted last layer (regression in the targets' units, gradients by finite differences), the
model file, ONNX, summary / notebook, get_weights / set_weights and the errors."""

import pickle

import numpy as np
import pytest

import fastmlp as fm
from fastmlp.preprocessing import Normalization

sklearn_preprocessing = pytest.importorskip("sklearn.preprocessing")


def _data(m=200, n=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(m, n)) * np.array([1.0, 100.0, 0.01, 5.0, 1e4])[:n] + np.array([3.0, -50.0, 0.0, 7.0, 1e5])[:n]
    return X


def _with_constant(X):
    X = X.copy()
    X[:, 2] = 0.1  # 0.1 is not exact in binary: the mean is not exactly 0.1, its variance not exactly 0
    return X


def _classes(X):
    z = (X - X.mean(axis=0)) / X.std(axis=0)
    return (z[:, 0] + z[:, 1] > 0).astype(int) + (z[:, 3] > 0.5)


def _identity_model(norm, n, dtype="float64"):
    """[norm, Dense(n, n) = identity]: forward is the normalization alone."""
    model = fm.Sequential([norm, fm.Dense(n, n)], dtype=dtype, seed=0)
    model.layers[1].weights = np.eye(n)
    model.layers[1].bias = np.zeros(n)
    return model


# --- the statistics -------------------------------------------------------------------------------


def test_adapt_matches_standard_scaler():
    X = _with_constant(_data())
    norm = Normalization().adapt(X)
    scaler = sklearn_preprocessing.StandardScaler().fit(X)
    np.testing.assert_allclose(norm.mean, scaler.mean_, rtol=1e-13, atol=1e-15)
    constant = scaler.scale_ == 1.0
    assert constant.tolist() == [False, False, True, False, False]
    assert norm.variance[2] == 0.0  # exactly: the C++ layer then leaves the column unscaled
    np.testing.assert_allclose(norm.variance[~constant], scaler.var_[~constant], rtol=1e-12)
    assert norm.n_in == 5 and norm.num_state == 10
    model = _identity_model(norm, 5)
    np.testing.assert_allclose(model.forward(X), scaler.transform(X), rtol=1e-12, atol=1e-12)
    X_new = _data(30, seed=9)
    np.testing.assert_allclose(model.predict(X_new), scaler.transform(X_new), rtol=1e-12, atol=1e-12)


def test_adapt_matches_numpy_and_axis_none():
    X = _data(101)
    norm = Normalization().adapt(X)
    np.testing.assert_allclose(norm.mean, X.mean(axis=0), rtol=1e-14)
    np.testing.assert_allclose(norm.variance, X.var(axis=0), rtol=1e-12)
    glob = Normalization(axis=None).adapt(X)
    np.testing.assert_allclose(glob.mean, np.full(5, X.mean()), rtol=1e-14)
    np.testing.assert_allclose(glob.variance, np.full(5, X.var()), rtol=1e-12)
    assert Normalization(axis=1).axis == -1 and Normalization(axis=(-1,)).axis == -1


def test_adapt_one_dimensional_integer_and_bool_data():
    y = np.arange(10)
    norm = Normalization(invert=True).adapt(y)  # 1-D: one column (the targets)
    assert norm.n_in == 1 and norm.mean[0] == 4.5 and norm.variance[0] == pytest.approx(8.25)
    flags = Normalization().adapt(np.array([[True, False], [False, False]]))
    assert flags.mean.tolist() == [0.5, 0.0] and flags.variance.tolist() == [0.25, 0.0]


def test_adapt_over_a_source_with_several_chunks_equals_the_array():
    X = _with_constant(_data(1000))
    y = X[:, 1] * 3.0 + 1e6
    whole = Normalization().adapt(X)
    source = fm.data.from_arrays(X, y, chunk_rows=77)  # 13 chunks, the last one short
    assert source.chunk_count() == 13
    chunked = Normalization().adapt(source)
    np.testing.assert_allclose(chunked.mean, whole.mean, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(chunked.variance, whole.variance, rtol=1e-12)
    assert chunked.variance[2] == whole.variance[2] == 0.0
    # an inverted Normalization learns a source's targets, the values it maps back to
    targets = Normalization(invert=True).adapt(source)
    np.testing.assert_allclose(targets.mean, [y.mean()], rtol=1e-14)
    np.testing.assert_allclose(targets.variance, [y.var()], rtol=1e-11)
    # a reader of your own
    reader = fm.data.IterableSource(lambda: ((X[i : i + 300], y[i : i + 300]) for i in range(0, 1000, 300)))
    np.testing.assert_allclose(Normalization().adapt(reader).variance, whole.variance, rtol=1e-12)


def test_adapt_on_a_dataframe_equals_the_array():
    pd = pytest.importorskip("pandas")
    X = _data(50)
    df = pd.DataFrame(X, columns=list("abcde"))
    df["e"] = df["e"].astype("float32")
    df["b"] = np.arange(50)  # integers
    expect = X.copy()
    expect[:, 4] = X[:, 4].astype(np.float32)
    expect[:, 1] = np.arange(50)
    norm = Normalization().adapt(df)
    np.testing.assert_allclose(norm.mean, expect.mean(axis=0), rtol=1e-14)
    np.testing.assert_allclose(norm.variance, expect.var(axis=0), rtol=1e-12)


def test_given_mean_and_variance():
    X = _data(40, 3)
    scalar = _identity_model(Normalization(mean=2.0, variance=4.0), 3)
    np.testing.assert_allclose(scalar.forward(X), (X - 2.0) / 2.0, rtol=1e-15)
    per_column = Normalization(mean=[1.0, 2.0, 3.0], variance=[4.0, 0.0, 0.25])
    assert per_column.n_in == 3
    model = _identity_model(per_column, 3)
    np.testing.assert_allclose(model.forward(X), (X - [1.0, 2.0, 3.0]) / [2.0, 1.0, 0.5], rtol=1e-15)
    mixed = Normalization(mean=[1.0, 2.0], variance=9.0)  # a number with a list: the number for each column
    assert mixed.n_in == 2 and mixed.variance.tolist() == [9.0, 9.0]
    assert Normalization(mean=1, variance=2).get_config() == {"axis": -1, "mean": 1.0, "variance": 2.0, "invert": False}


def test_before_adapt_the_layer_is_the_identity_as_in_keras():
    X = _data(60, 4)
    norm = Normalization()
    assert norm.mean is None and norm.variance is None and norm.n_in is None
    model = fm.Sequential([norm, fm.Dense(8, "relu"), fm.Dense(2)], dtype="float64", seed=3)
    assert not model.built
    model.fit(X, X[:, :2], epochs=1, verbose=0)
    assert model.n_features_in == 4 and norm.mean.tolist() == [0.0] * 4 and norm.variance.tolist() == [1.0] * 4
    plain = fm.Sequential([fm.Dense(4, 8, "relu"), fm.Dense(8, 2)], dtype="float64", seed=3)
    plain.set_weights(model.get_weights()[2:])
    np.testing.assert_array_equal(model.forward(X), plain.forward(X))


def test_adapt_in_a_built_model_writes_its_statistics():
    X = _data(80, 4)
    norm = Normalization()
    model = _identity_model(norm, 4)
    model_before = model.forward(X)
    np.testing.assert_array_equal(model_before, X)
    norm.adapt(X * 2.0)
    assert norm.mean is not None and isinstance(norm.mean, np.ndarray)
    np.testing.assert_allclose(model.forward(X), (X - 2.0 * X.mean(0)) / (2.0 * X.std(0)), rtol=1e-12)
    # adapted on a model's layer before the model is built: the fit builds it with those columns
    late = Normalization()
    unbuilt = fm.Sequential([late, fm.Dense(3, "relu"), fm.Dense(1)], dtype="float64", seed=0)
    late.adapt(X)
    assert unbuilt.n_features_in == 4 and not unbuilt.built
    unbuilt.fit(X, X[:, 0], epochs=1, verbose=0)
    np.testing.assert_allclose(late.mean, X.mean(axis=0), rtol=1e-14)


# --- the first layer: training on raw features ---------------------------------------------------


def test_fit_with_normalization_first_equals_fit_on_standard_scaler_output():
    X = _data(300)
    y = _classes(X)
    X_test = _data(100, seed=5)
    scaler = sklearn_preprocessing.StandardScaler().fit(X)

    def train(layers, X_fit):
        model = fm.Sequential(layers, dtype="float64", seed=42)
        model.fit(X_fit, y, epochs=60, batch_size=32, verbose=0)
        return model

    inside = train([Normalization().adapt(X), fm.Dense(16, "relu"), fm.Dense(3, "softmax")], X)
    outside = train([fm.Dense(5, 16, "relu"), fm.Dense(16, 3, "softmax")], scaler.transform(X))
    np.testing.assert_allclose(inside.predict_proba(X_test), outside.predict_proba(scaler.transform(X_test)), atol=1e-9)
    assert inside.accuracy(X, y) == outside.accuracy(scaler.transform(X), y) > 0.85
    raw = train([fm.Dense(5, 16, "relu"), fm.Dense(16, 3, "softmax")], X)  # columns up to 1e5 apart
    assert raw.accuracy(X, y) < inside.accuracy(X, y) - 0.1
    np.testing.assert_allclose(inside.get_weights()[2:][0], outside.get_weights()[0], atol=1e-9)


def test_fit_keeps_the_statistics_and_dropout_may_follow():
    X = _data(120)
    y = _classes(X)
    norm = Normalization().adapt(X)
    model = fm.Sequential([norm, fm.Dropout(0.1), fm.Dense(8, "relu"), fm.Dense(3, "softmax")], seed=0)
    mean, variance = norm.mean.copy(), norm.variance.copy()
    model.fit(X, y, epochs=3, verbose=0)
    np.testing.assert_array_equal(norm.mean, mean)
    np.testing.assert_array_equal(norm.variance, variance)


# --- the inverted last layer: regression in the targets' units -----------------------------------


def _regression(m=400, seed=0):
    X = _data(m, 4, seed)
    z = (X - [3.0, -50.0, 0.0, 7.0]) / [1.0, 100.0, 0.01, 5.0]
    y = 2e4 * (z[:, 0] - 0.5 * z[:, 1] + np.tanh(z[:, 2])) + 3e5  # large units
    return X, y


def _regressor(X, y, dtype="float32", seed=0):
    layers = [Normalization().adapt(X), fm.Dense(32, "relu"), fm.Dense(1), Normalization(invert=True).adapt(y)]
    return fm.Sequential(layers, dtype=dtype, seed=seed)


def test_inverted_normalization_trains_and_predicts_in_target_units():
    X, y = _regression()
    model = _regressor(X, y)
    assert model.loss_name == "mse" and model.n_outputs == 1
    model.fit(X, y, epochs=60, verbose=0)
    X_test, y_test = _regression(200, seed=1)
    pred = model.predict(X_test)
    r2 = 1 - np.mean((pred - y_test) ** 2) / np.var(y_test)
    assert r2 > 0.95, r2
    assert abs(pred.mean() - y_test.mean()) < 0.1 * y_test.std()
    # the same network without the inverted layer sees the raw targets: far from them after as many epochs
    raw = fm.Sequential([Normalization().adapt(X), fm.Dense(32, "relu"), fm.Dense(1)], seed=0)
    raw.fit(X, y, epochs=60, verbose=0)
    assert np.mean((raw.predict(X_test) - y_test) ** 2) > 10 * np.mean((pred - y_test) ** 2)


def test_inverted_forward_is_the_numpy_formula():
    X, y = _regression(50)
    model = _regressor(X, y, dtype="float64")
    model.fit(X, y, epochs=2, verbose=0)
    first, last = model.layers[0], model.layers[3]
    W1, b1, W2, b2 = model.get_weights()[2:6]
    a = np.maximum(((X - first.mean) / np.sqrt(first.variance)) @ W1 + b1, 0.0)
    expect = (a @ W2 + b2) * np.sqrt(last.variance) + last.mean
    np.testing.assert_allclose(model.forward(X), expect, rtol=1e-12)
    weights = model.get_weights()  # mean, variance of each Normalization where it stands
    assert (
        len(weights) == 8
        and weights[6].tolist() == last.mean.tolist()
        and weights[7].tolist() == last.variance.tolist()
    )


def test_gradients_through_an_inverted_normalization_by_finite_differences():
    X, y = _regression(20)
    X = _with_constant(X)  # a constant input column too (scale 1)
    model = _regressor(X, y, dtype="float64", seed=1)
    assert model.layers[0].variance[2] == 0.0 and model.layers[3].variance[0] > 1e8
    model.layers[2].bias = [0.3]
    assert fm.check_gradients(model, X, y) < 1e-6
    # and they are the plain network's scaled by s: dJ/dz of the output = 2 (a s + mean - y) s / m
    grads = model.gradients(X, y)
    s, mean = np.sqrt(model.layers[3].variance[0]), model.layers[3].mean[0]
    first = model.layers[0]
    scale = np.where(first.variance > 0, np.sqrt(first.variance), 1.0)
    hidden = np.maximum(((X - first.mean) / scale) @ model.layers[1].weights + model.layers[1].bias, 0.0)
    out = hidden @ model.layers[2].weights + model.layers[2].bias
    delta = 2 * (out[:, 0] * s + mean - y) * s / len(y)
    np.testing.assert_allclose(grads[-1][1], [delta.sum()], rtol=1e-10)
    np.testing.assert_allclose(grads[-1][0][:, 0], hidden.T @ delta, rtol=1e-10)


# --- the file, copies, ONNX ---------------------------------------------------------------------


def _trained(dtype="float32"):
    X, y = _regression(100)
    X = _with_constant(X)
    model = _regressor(X, y, dtype=dtype)
    model.fit(X, y, epochs=2, verbose=0)
    return model, X


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_save_load_round_trip_bit_for_bit(tmp_path, dtype):
    model, X = _trained(dtype)
    path = tmp_path / "m.safetensors"
    model.save(path)
    for back in (
        fm.load(path),
        fm.Sequential.from_bytes(model.to_bytes()),
        pickle.loads(pickle.dumps(model)),
        model.copy(),
    ):
        assert [type(layer).__name__ for layer in back.layers] == ["Normalization", "Dense", "Dense", "Normalization"]
        assert back.layers[3].invert and not back.layers[0].invert and back.n_features_in == 4
        for a, b in zip(model.get_weights(), back.get_weights()):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(back.predict(X), model.predict(X))


def test_copy_of_axis_none_and_of_given_numbers():
    X = _data(40, 3)
    model = _identity_model(Normalization(axis=None).adapt(X), 3)
    clone = model.copy()
    assert clone.layers[0].axis is None
    np.testing.assert_array_equal(clone.forward(X), model.forward(X))
    given = _identity_model(Normalization(mean=2.0, variance=4.0), 3)
    assert given.layers[0].get_config()["mean"] == [2.0, 2.0, 2.0]
    np.testing.assert_allclose(given.copy(dtype="float32").forward(X), given.forward(X), rtol=1e-6, atol=1e-6)


def test_the_cpp_loader_applies_both_normalizations(cpp_tests_build, tmp_path):
    """tests/cpp/serialize_tool (fastmlp::load_network, built against the installed package): the C++
    forward of a Python-saved file equals Python's; the C++-resaved file loads back bit for bit."""
    import subprocess

    def tool(*args):
        res = subprocess.run([str(cpp_tests_build / "serialize_tool"), *map(str, args)], capture_output=True, text=True)
        assert res.returncode == 0, res.stderr
        return res.stdout

    for dtype, ctype, tol in (("float32", "float", 1e-5), ("float64", "double", 1e-12)):
        model, X = _trained(dtype)
        model.save(tmp_path / "py.safetensors")
        np.ascontiguousarray(X, dtype="<f8").tofile(tmp_path / "X.bin")
        out = tool("predict", ctype, tmp_path / "py.safetensors", tmp_path / "X.bin", *X.shape)
        got = np.array([[float(v) for v in line.split()] for line in out.strip().splitlines()])
        np.testing.assert_allclose(got, model.forward(X), rtol=tol)  # in the targets' units: ~3e5
        tool("resave", ctype, tmp_path / "py.safetensors", tmp_path / "cpp.safetensors")
        again = fm.load(tmp_path / "cpp.safetensors")
        for a, b in zip(model.get_weights(), again.get_weights()):
            np.testing.assert_array_equal(a, b)
        assert again.layers[3].invert and again.n_features_in == 4


def test_file_entry_and_config_round_trip():
    norm = Normalization(mean=[1.0, 2.0], variance=[3.0, 0.0], invert=False)
    assert norm.file_entry() == {"type": "Normalization", "n_in": 2, "invert": False}
    again = Normalization.from_config(norm.get_config())
    assert again.mean.tolist() == [1.0, 2.0] and again.variance.tolist() == [3.0, 0.0]
    loaded = fm.Layer.from_file_entry({"type": "Normalization", "n_in": 3, "invert": True})
    assert loaded.n_in == 3 and loaded.invert and loaded.mean is None
    with pytest.raises(TypeError):
        fm.Layer.from_file_entry({"type": "Normalization", "n_in": 3, "invert": True, "scale": 2})


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_onnx_equals_forward(dtype):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    model, X = _trained(dtype)
    proto = fm.onnx.to_onnx(model)
    ops = [node.op_type for node in proto.graph.node]
    assert ops[:2] == ["Sub", "Div"] and ops[-2:] == ["Mul", "Add"]
    names = {t.name for t in proto.graph.initializer}
    assert {"layers.0.mean", "layers.0.scale", "layers.3.mean", "layers.3.scale"} <= names
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    got = session.run(None, {"input": X.astype(dtype)})[0]
    rtol = 1e-6 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(got, model.forward(X), rtol=rtol)


def test_onnx_of_the_normalization_alone_is_exact():
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    X = _with_constant(_data(64)).astype(np.float32)
    model = _identity_model(Normalization().adapt(X), 5, dtype="float32")
    session = ort.InferenceSession(fm.onnx.to_onnx(model).SerializeToString(), providers=["CPUExecutionProvider"])
    # Sub and Div (and the Gemm by the identity) in float32 as the C++ layer computes them: the same bits
    np.testing.assert_array_equal(session.run(None, {"input": X})[0], model.forward(X))


# --- summary, notebook, weights ------------------------------------------------------------------


def test_summary_and_html():
    model, _ = _trained()
    text = model.summary(print_fn=None)
    assert "normalization_0 (Normalization)" in text and "normalization_3 (Normalization, inverted)" in text
    assert "0 (+8 non-trainable)" in text and "0 (+2 non-trainable)" in text
    assert f"Total params: {model.num_params:,}" in text and "Non-trainable params: 10" in text
    html = model._repr_html_()
    assert "Normalization()" in html and "Normalization(invert=True)" in html and "mean, variance (4,)" in html
    assert "0 (+8 non-trainable)" in html
    assert repr(model).startswith("Sequential([Normalization(), Dense(4, 32")
    unbuilt = fm.Sequential([Normalization(), fm.Dense(3), fm.Dense(1)])
    assert "(+? non-trainable)" in unbuilt.summary(print_fn=None)


def test_get_and_set_weights():
    model, X = _trained("float64")
    weights = model.get_weights()
    assert len(weights) == 8
    np.testing.assert_array_equal(weights[0], model.layers[0].mean)
    np.testing.assert_array_equal(weights[1], model.layers[0].variance)
    np.testing.assert_array_equal(weights[7], model.layers[3].variance)
    new = [w.copy() for w in weights]
    new[0] = new[0] + 1.0
    model.set_weights(new)
    np.testing.assert_array_equal(model.layers[0].mean, weights[0] + 1.0)
    bad = [w.copy() for w in weights]
    bad[1][0] = -1.0
    bad[2][0, 0] = 123.0
    with pytest.raises(ValueError, match=r"weights\[1\] \(variance of layers\[0\]\) holds a negative variance"):
        model.set_weights(bad)
    np.testing.assert_array_equal(model.layers[1].weights, weights[2])  # nothing changed


# --- errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("axis", "error"),
    [(0, ValueError), (2, ValueError), (-2, ValueError), ("x", TypeError), (True, TypeError), ((0, 1), TypeError)],
)
def test_bad_axis(axis, error):
    with pytest.raises(error, match="axis"):
        Normalization(axis=axis)


def test_bad_given_statistics():
    with pytest.raises(ValueError, match="both mean and variance"):
        Normalization(mean=1.0)
    with pytest.raises(ValueError, match="variance must be >= 0"):
        Normalization(mean=0.0, variance=[1.0, -1.0])
    with pytest.raises(ValueError, match="NaN"):
        Normalization(mean=[np.nan], variance=[1.0])
    with pytest.raises(ValueError, match="one each per column"):
        Normalization(mean=[1.0, 2.0], variance=[1.0, 2.0, 3.0])
    with pytest.raises(TypeError, match="invert"):
        Normalization(invert="yes")


def test_nan_in_adapt_data_names_the_column():
    X = _data(20)
    X[7, 3] = np.nan
    norm = Normalization()
    with pytest.raises(ValueError, match=r"column 3 contains NaN"):
        norm.adapt(X)
    assert norm.mean is None  # nothing changed
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(X, columns=["a", "b", "c", "dose", "e"])
    with pytest.raises(ValueError, match=r"column 'dose' contains NaN"):
        norm.adapt(df)
    with pytest.raises(TypeError, match=r"column 'kind' has dtype category"):
        norm.adapt(pd.DataFrame({"x": [1.0, 2.0], "kind": pd.Categorical(["a", "b"])}))
    source = fm.data.from_arrays(X, np.zeros(20), chunk_rows=5)
    with pytest.raises(ValueError, match=r"chunk 1 \(rows 5:10 of arrays\): column 3 contains NaN"):
        norm.adapt(source)
    with pytest.raises(TypeError, match="must hold numbers"):
        norm.adapt(np.array([["a", "b"]]))
    with pytest.raises(ValueError, match="empty"):
        norm.adapt(np.zeros((0, 3)))


def test_statistics_past_the_dtypes_range_are_an_error_not_a_constant_column():
    """Audit: values ~1e200 have a variance past float64's range: it was inf, then declared 0 (a
    "constant" column left unscaled); statistics past float32's range became inf in a float32 model,
    whose fit then raised DivergenceError ("try a smaller learning rate"). Now a ValueError naming
    the column, and nothing changes: the layer, a built model's statistics, an unbuilt model."""
    X = _data(20, 3)
    norm = Normalization()
    with pytest.raises(ValueError, match="variance of column 0 overflows float64"):
        norm.adapt(X * 1e200)
    assert norm.mean is None
    # a float32 model: a given mean past float32's range, at the first fit
    model = fm.Sequential([Normalization(mean=1e300, variance=1.0), fm.Dense(4, "relu"), fm.Dense(1)], seed=0)
    with pytest.raises(ValueError, match=r"the mean of column 0 overflows the model's float32"):
        model.fit(X, X[:, 0], epochs=1, verbose=0)
    assert not model.built and model.n_features_in is None and model.layers[1].n_in is None
    # ... an adapted variance past float32's range, adapt in a built model
    model = fm.Sequential([Normalization(), fm.Dense(4, "relu"), fm.Dense(1)], seed=0)
    model.layers[0].adapt(X)
    model.fit(X, X[:, 0], epochs=1, verbose=0)
    before = model.get_weights()
    with pytest.raises(ValueError, match=r"the variance of column 0 overflows the model's float32"):
        model.layers[0].adapt(X * 1e30)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    # float64 holds them
    model64 = fm.Sequential([Normalization(), fm.Dense(4, "relu"), fm.Dense(1)], seed=0, dtype="float64")
    model64.layers[0].adapt(X * 1e30)
    model64.fit(X * 1e30, X[:, 0], epochs=1, verbose=0)


def test_wrong_column_count_at_adapt_and_at_fit():
    X = _data(30, 4)
    norm = Normalization().adapt(X)
    model = fm.Sequential([norm, fm.Dense(3, "relu"), fm.Dense(1)], seed=0)
    before = norm.mean.copy(), norm.variance.copy()
    with pytest.raises(ValueError, match="data has 5 columns but this Normalization takes 4"):
        norm.adapt(_data(30, 5))
    bad = X.copy()
    bad[29, 0] = np.inf
    with pytest.raises(ValueError, match=r"chunk 2 \(rows 20:30 of arrays\): column 0 contains NaN or infinity"):
        norm.adapt(fm.data.from_arrays(bad, np.zeros(30), chunk_rows=10))  # the last chunk fails: nothing written
    np.testing.assert_array_equal(norm.mean, before[0])
    np.testing.assert_array_equal(norm.variance, before[1])
    with pytest.raises(ValueError, match="5 features but the model expects 4"):
        model.fit(_data(30, 5), np.zeros(30), epochs=1, verbose=0)
    late = Normalization()
    unbuilt = fm.Sequential([late, fm.Dense(3, "relu"), fm.Dense(1)], seed=0)
    late.adapt(X)
    with pytest.raises(ValueError, match="the data has 5 columns but the Normalization was adapted on"):
        unbuilt.fit(_data(30, 5), np.zeros(30), epochs=1, verbose=0)
    assert not unbuilt.built
    unbuilt.fit(X, np.zeros(30), epochs=1, verbose=0)  # the right width still works
    with pytest.raises(ValueError, match=r"layers\[2\]: this Normalization has statistics for 2 columns"):
        fm.Sequential([fm.Dense(4, 3), fm.Dense(1), Normalization(invert=True).adapt(np.zeros((3, 2)) + [[1, 2]])])


@pytest.mark.parametrize(
    ("layers", "match"),
    [
        (
            lambda: [fm.Dense(4, 3), Normalization(), fm.Dense(1)],
            r"layers\[1\]: a Normalization must be the first.*in the middle",
        ),
        (lambda: [fm.Dense(4, 1), Normalization()], r"layers\[1\]: .*not the last without invert=True"),
        (lambda: [fm.Dense(4, 3), Normalization(invert=True), fm.Dense(1)], r"layers\[1\]: .*in the middle"),
        (
            lambda: [Normalization(invert=True), fm.Dense(4, 1)],
            r"layers\[0\]: a Normalization\(invert=True\) .* last layer",
        ),
        (lambda: [Normalization()], r"layers\[0\]: a model needs a Dense layer after its Normalization"),
        (lambda: [Normalization(), Normalization(invert=True)], "at least one Dense"),
        (
            lambda: [fm.Dense(4, 3), fm.Residual([Normalization(), fm.Dense(3, 3)]), fm.Dense(1)],
            r"layers\[1\]\.layers\[0\]: a Normalization must be the first",
        ),
    ],
)
def test_normalization_in_a_wrong_place(layers, match):
    made = layers()
    with pytest.raises(ValueError, match=match):
        fm.Sequential(made)
    for layer in made:  # nothing was claimed: the layers may go into another model
        assert layer._owner is None and layer._net is None


def test_a_classification_loss_after_an_inverted_normalization_is_refused():
    with pytest.raises(ValueError):
        fm.Sequential([fm.Dense(4, 3), Normalization(invert=True)], loss="categorical_crossentropy")


# --- CUDA -----------------------------------------------------------------------------------------


@pytest.mark.gpu
@pytest.mark.skipif(not fm.cuda_available(), reason="no CUDA device")
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_cuda_matches_cpu(dtype):
    X, y = _regression(256)
    X = _with_constant(X)
    cpu = _regressor(X, y, dtype=dtype)
    gpu = cpu.copy().to("cuda")
    tol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(gpu.forward(X), cpu.forward(X), rtol=tol)
    for (gw, gb), (cw, cb) in zip(gpu.gradients(X, y), cpu.gradients(X, y)):
        np.testing.assert_allclose(gw, cw, rtol=tol * 10, atol=tol)
        np.testing.assert_allclose(gb, cb, rtol=tol * 10, atol=tol)
    cpu.fit(X, y, epochs=3, batch_size=64, shuffle=False, verbose=0)
    gpu.fit(X, y, epochs=3, batch_size=64, shuffle=False, verbose=0)
    np.testing.assert_allclose(gpu.predict(X), cpu.predict(X), rtol=tol * 100)
    np.testing.assert_array_equal(gpu.layers[3].variance, cpu.layers[3].variance)  # state, not trained
