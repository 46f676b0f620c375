"""Categorical columns by dtype (issue 26, deliverable 2): a DataFrame's category, string/object
and bool columns become learned embeddings (fm.ColumnEmbedding, cpp/src/layers/column_embedding.cpp).
The layer against the NumPy reference, float64 finite differences and torch.nn.Embedding; the
vocabulary (out of vocabulary, missing entries), missing numbers (fill_missing), training on a
generated data set whose signal is in the categories, the model file, bytes, pickle and copy,
a numbers-only DataFrame unchanged bit for bit, and bad inputs naming the column. With a Normalization
layer, and what the first fit learns from which rows: test_tabular_normalization.py."""

import pickle

import numpy as np
import pytest

import fastmlp as fm
import reference as ref
from helpers_tabular import frame, pd


def fitted(df, y, first=None, epochs=40, seed=3, dtype="float64"):
    layers = ([first] if first is not None else []) + [fm.Dense(16, "relu"), fm.Dense(2, "softmax")]
    model = fm.Sequential(layers, seed=seed, dtype=dtype)
    model.fit(df, y, epochs=epochs, batch_size=32, verbose=0)
    return model


# --- the vocabulary and the rows the core sees ----------------------------------------------------


def test_columns_by_dtype_and_the_codes():
    df, y = frame(20)
    model = fitted(df, y, epochs=1)
    layer = model.layers[0]
    assert isinstance(layer, fm.ColumnEmbedding)
    kinds = [c["kind"] for c in layer.columns.columns]
    assert kinds == ["number", "category", "category", "category"]
    assert layer.columns.columns[1]["categories"] == sorted(set(df["city"]))  # strings: sorted
    assert layer.columns.columns[2]["categories"] == [False, True]
    assert layer.columns.columns[3]["categories"] == ["lo", "mid", "hi"]  # a category dtype keeps its order
    X = layer.columns.encode(
        pd.DataFrame({"x1": [0.5, 1.5], "city": ["zzz", None], "flag": [True, False], "grade": ["hi", "lo"]}),
        np.float64,
    )
    # code 0: out of vocabulary, 1: missing, 2 + i: the i-th category
    np.testing.assert_array_equal(X, [[0.5, 0, 3, 4], [1.5, 1, 2, 2]])
    assert model.n_features_in == 4 and list(model.feature_names_in_) == ["x1", "city", "flag", "grade"]


def test_embedding_sizes_rule_and_knob():
    assert fm.tabular.embedding_size(8) == round(1.6 * 8**0.56) and fm.tabular.embedding_size(10**9) == 600
    df, y = frame(50)
    default = fitted(df, y, epochs=1).layers[0].columns.tables()
    assert default == [(1, 8, fm.tabular.embedding_size(8)), (2, 4, 3), (3, 5, fm.tabular.embedding_size(5))]
    given = fitted(df, y, fm.ColumnEmbedding(embedding_sizes={"city": 8}), epochs=1).layers[0]
    assert [d for _, _, d in given.columns.tables()] == [8, 3, fm.tabular.embedding_size(5)]
    assert [
        d for _, _, d in fitted(df, y, fm.ColumnEmbedding(embedding_sizes=2), epochs=1).layers[0].columns.tables()
    ] == [2, 2, 2]
    call = fitted(df, y, fm.ColumnEmbedding(embedding_sizes=lambda v: v), epochs=1).layers[0]
    assert [d for _, _, d in call.columns.tables()] == [8, 4, 5]
    assert call.n_out == 1 + 8 + 4 + 5 and call.num_params == 64 + 16 + 25


# --- the layer's math: reference, finite differences, torch -----------------------------------------


def reference_stack(model):
    ce, d1, d2 = model.layers
    tables = {
        j: ce.embeddings[c["name"]].astype(np.float64)
        for j, c in enumerate(ce.columns.columns)
        if c["kind"] == "category"
    }
    return [
        {"type": "ColumnEmbedding", "tables": tables},
        {"type": "Dense", "W": d1.weights.astype(np.float64), "b": d1.bias.astype(np.float64), "g": "relu"},
        {"type": "Dense", "W": d2.weights.astype(np.float64), "b": d2.bias.astype(np.float64), "g": "softmax"},
    ]


def test_forward_and_gradients_match_the_reference():
    df, y = frame(80, missing=True)
    model = fitted(df, y, fm.ColumnEmbedding(fill_missing=True), epochs=2)
    X = model._X(df)
    assert X.shape == (80, 5)  # x1's missing indicator after the DataFrame's columns
    stack = reference_stack(model)
    J_ref, grads, a_ref = ref.stack_loss_and_grads(stack, X, np.eye(2)[y], "categorical_crossentropy")
    np.testing.assert_allclose(model.forward(df), a_ref, rtol=1e-12, atol=1e-14)
    assert model._engine.gradients(X, model._Y(y, len(y))) == pytest.approx(J_ref, rel=1e-12)
    for j, (col, dE) in enumerate(grads[id(stack[0])].items()):
        np.testing.assert_allclose(model._net.grad_tensor(f"layers.0.embeddings_{j}"), dE, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(model._net.grad_tensor("layers.1.weight"), grads[id(stack[1])]["W"], rtol=1e-10)


def test_gradients_match_finite_differences():
    df, y = frame(40)
    model = fitted(df, y, epochs=3)
    X = model._X(df)
    model._engine.gradients(X, model._Y(y, len(y)))
    for j, table in enumerate(model.layers[0].embeddings.values()):
        analytic = model._net.grad_tensor(f"layers.0.embeddings_{j}").reshape(-1).copy()
        flat, numeric = table.reshape(-1), np.empty(table.size)
        for i in range(flat.size):
            old = flat[i]
            flat[i] = old + 1e-6
            up = model.loss(X, y)
            flat[i] = old - 1e-6
            down = model.loss(X, y)
            flat[i] = old
            numeric[i] = (up - down) / 2e-6
        np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-9)
        assert np.count_nonzero(analytic)
    assert fm.check_gradients(model, X, y) < 1e-6


def test_against_torch_embedding():
    torch = pytest.importorskip("torch")
    nn = torch.nn
    df, y = frame(60, missing=True)
    model = fitted(df, y, fm.ColumnEmbedding(fill_missing=True), epochs=2)
    X = model._X(df)
    layer = model.layers[0]
    tables = [
        (j, nn.Embedding.from_pretrained(torch.tensor(E), freeze=False))
        for j, E in zip([j for j, _, _ in layer.columns.tables()], layer.embeddings.values())
    ]
    d1, d2 = model.layers[1], model.layers[2]
    x = torch.tensor(X)
    numeric = [j for j in range(X.shape[1]) if j not in dict(tables)]
    h = torch.cat([x[:, numeric]] + [emb(x[:, j].long()) for j, emb in tables], dim=1)
    W1, W2 = torch.tensor(d1.weights, requires_grad=True), torch.tensor(d2.weights, requires_grad=True)
    logits = torch.relu(h @ W1 + torch.tensor(d1.bias)) @ W2 + torch.tensor(d2.bias)
    np.testing.assert_allclose(model.forward(X), torch.softmax(logits, 1).detach().numpy(), rtol=1e-12, atol=1e-15)
    nn.functional.cross_entropy(logits, torch.tensor(y)).backward()
    model._engine.gradients(X, model._Y(y, len(y)))
    for k, (_, emb) in enumerate(tables):
        np.testing.assert_allclose(
            model._net.grad_tensor(f"layers.0.embeddings_{k}"), emb.weight.grad.numpy(), rtol=1e-10, atol=1e-14
        )


# --- training and predicting on the raw DataFrame -------------------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_categories_carry_the_signal(dtype):
    df, y = frame(1500, seed=1, missing=True)
    test_df, test_y = frame(500, seed=2, missing=True)
    model = fitted(df, y, fm.ColumnEmbedding(fill_missing=True), epochs=60, dtype=dtype)
    assert (model.predict(test_df) == test_y).mean() > 0.9  # xor of city and flag: no linear shortcut
    numbers_only = fm.Sequential([fm.Dense(16, "relu"), fm.Dense(2, "softmax")], seed=3)
    numbers_only.fit(df[["x1"]].fillna(0), y, epochs=20, verbose=0)  # the noise column alone: chance
    assert (numbers_only.predict(test_df[["x1"]].fillna(0)) == test_y).mean() < 0.6


def test_unseen_and_missing_categories_predict():
    df, y = frame(200)
    model = fitted(df, y, epochs=2)
    new = df.head(4).copy()
    new["city"] = ["never seen", None, np.nan, "a"]
    new["grade"] = pd.Categorical(["lo", None, "hi", "lo"], categories=["lo", "mid", "hi"])
    p = model.predict_proba(new)
    assert p.shape == (4, 2) and np.isfinite(p).all()
    codes = model._X(new)[:, 1]
    np.testing.assert_array_equal(codes, [0, 1, 1, 2])
    # a new string column value dtype (pandas "string") maps the same
    same = new.astype({"city": "string"})
    np.testing.assert_array_equal(model.forward(same), model.forward(new))


def test_a_numbers_only_dataframe_is_unchanged_bit_for_bit():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 3))
    y = (X[:, 0] > 0).astype(int)
    df = pd.DataFrame(X, columns=["a", "b", "c"])
    runs = []
    for data in (X, df):
        model = fm.Sequential([fm.Dense(8, "relu"), fm.Dense(2, "softmax")], seed=5)
        model.fit(data, y, epochs=3, verbose=0)
        runs.append((model, model.forward(X)))
    assert not any(isinstance(layer, fm.ColumnEmbedding) for layer in runs[1][0].layers)
    np.testing.assert_array_equal(runs[0][1], runs[1][1])
    np.testing.assert_array_equal(runs[0][0].params, runs[1][0].params)
    with pytest.raises(ValueError, match="NaN"):  # as before: numbers with NaN are refused by the core
        fm.Sequential([fm.Dense(2, "softmax")]).fit(df.where(df > -2), y, epochs=1, verbose=0)


# --- the model file, bytes, pickle, copy -----------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_round_trips_with_unseen_and_missing_values(tmp_path, dtype):
    df, y = frame(300, missing=True)
    model = fitted(df, y, fm.ColumnEmbedding(fill_missing=True, embedding_sizes={"city": 5}), epochs=3, dtype=dtype)
    new = df.head(6).copy()
    new["city"] = ["unseen", None, "a", "b", "zz", np.nan]
    new.loc[new.index[:3], "x1"] = np.nan
    want = model.predict_proba(new)
    path = tmp_path / "tab.safetensors"
    model.save(path)
    for other in (
        fm.load(path),
        fm.Sequential.from_bytes(model.to_bytes()),
        pickle.loads(pickle.dumps(model)),
        model.copy(),
    ):
        np.testing.assert_array_equal(other.predict_proba(new), want)
        assert isinstance(other.layers[0], fm.ColumnEmbedding)
        assert other.layers[0].columns.columns == model.layers[0].columns.columns
        assert list(other.feature_names_in_) == ["x1", "city", "flag", "grade", "x1_na"]
    # training goes on from the loaded model with the same vocabulary
    loaded = fm.load(path)
    loaded.fit(df, y, epochs=1, verbose=0)
    assert loaded.layers[0].columns.tables() == model.layers[0].columns.tables()


def test_the_cpp_loader_reads_the_file(tmp_path):
    df, y = frame(100)
    model = fitted(df, y, epochs=1)
    path = tmp_path / "tab.safetensors"
    model.save(path)
    net, meta = fm.io.read(path)  # the C++ codec: builds the ColumnEmbedding layer from its entry
    assert '"type":"ColumnEmbedding"' in meta["layers"].replace(" ", "")
    np.testing.assert_array_equal(net.params, model.params)


def test_summary_shows_the_layer():
    df, y = frame(50)
    model = fitted(df, y, epochs=1)
    text = model.summary(print_fn=None) or ""
    assert "ColumnEmbedding" in text or "ColumnEmbedding" in repr(model)


# --- bad inputs ------------------------------------------------------------------------------------


def test_missing_numbers_name_the_column_and_the_option():
    df, y = frame(50, missing=True)
    model = fm.Sequential([fm.Dense(4, "relu"), fm.Dense(2, "softmax")])
    with pytest.raises(ValueError, match=r"'x1'.*fill_missing=True"):
        model.fit(df, y, epochs=1, verbose=0)
    assert not model.built and len(model.layers) == 2  # a failed fit changes nothing
    trained = fitted(frame(50)[0], y, epochs=1)
    bad = frame(50, missing=True)[0]
    with pytest.raises(ValueError, match=r"'x1'.*fill_missing=True"):
        trained.predict(bad)


def test_wrong_columns_and_types_name_the_column():
    df, y = frame(50)
    model = fitted(df, y, epochs=1)
    with pytest.raises(ValueError, match=r"missing \['flag'\]"):
        model.predict(df.drop(columns="flag"))
    with pytest.raises(ValueError, match="another order"):
        model.predict(df[["city", "x1", "flag", "grade"]])
    with pytest.raises(TypeError, match="'x1'"):
        model.predict(df.assign(x1="text"))
    with pytest.raises(TypeError, match="'when'.*categories must be"):
        fitted(df.assign(when=pd.Timestamp("2020-01-01")).astype({"when": object}), y, epochs=1)
    with pytest.raises(ValueError, match="embedding_sizes names columns"):
        fitted(df, y, fm.ColumnEmbedding(embedding_sizes={"nope": 3}), epochs=1)
    with pytest.raises(TypeError, match="embedding_sizes"):
        fm.ColumnEmbedding(embedding_sizes="big")
    with pytest.raises(TypeError, match="categorical columns"):
        built = fm.Sequential([fm.Dense(2, "softmax")], seed=0)
        built.build(4)
        built.fit(df, y, epochs=1, verbose=0)


def test_bad_codes_in_encoded_rows_are_value_errors():
    df, y = frame(50)
    model = fitted(df, y, epochs=1)
    X = model._X(df).copy()
    X[3, 1] = 99
    with pytest.raises(ValueError, match=r"X\[:, 1\] holds 99 at row 3"):
        model.forward(X)


def test_place_in_the_model():
    with pytest.raises(ValueError, match="first layer"):
        fm.Sequential([fm.Dense(4), fm.ColumnEmbedding(), fm.Dense(2, "softmax")])
    with pytest.raises(ValueError, match="last layer"):
        fm.Sequential([fm.ColumnEmbedding()])


# --- ONNX: strings in, through ai.onnx.ml's LabelEncoder ---------------------------------------------


def onnx_feed(df, model):
    """One (batch, 1) input per column: str(category) for categorical columns ("" when missing)."""
    feed = {}
    for c in fm.tabular.find(model.layers).columns.columns:
        s = df[c["name"]]
        if c["kind"] == "category":
            feed[c["name"]] = np.array(["" if v is None or v != v else str(v) for v in s], dtype=object)[:, None]
        else:
            feed[c["name"]] = s.to_numpy(dtype=model.dtype)[:, None]
    return feed


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("normalized", [False, True])
def test_onnx_takes_the_raw_columns_and_equals_forward(dtype, normalized):
    ort = pytest.importorskip("onnxruntime")
    df, y = frame(200, missing=True)
    first = [fm.Normalization(mean=[3, 0, 0, 0, 0], variance=[4, 0, 0, 0, 0])] if normalized else []
    model = fm.Sequential(
        first + [fm.ColumnEmbedding(fill_missing=True), fm.Dense(8, "relu"), fm.Dense(2, "softmax")],
        dtype=dtype,
        seed=0,
    )
    model.fit(df, y, epochs=2, verbose=0)
    new = df.head(30).copy()
    new.loc[new.index[:4], "city"] = ["unseen", None, "a", "zz"]
    proto = fm.onnx.to_onnx(model)
    assert {node.op_type for node in proto.graph.node} >= {"LabelEncoder", "Gather", "Concat"}
    sess = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    got = sess.run(None, onnx_feed(new, model))[0]
    tol = 1e-6 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(got, model.forward(new), rtol=tol, atol=tol)


def test_onnx_reads_read_csvs_missing_markers_as_missing():
    """A text cell that pandas' read_csv (and the C++ raw-row reader) reads as missing is the missing
    entry in the graph too (_core.MISSING_CELLS); any other unknown text is out of vocabulary."""
    ort = pytest.importorskip("onnxruntime")
    df, y = frame(200, missing=True)
    model = fitted(df, y, fm.ColumnEmbedding(fill_missing=True), epochs=2)
    new = df.head(6).copy()
    new["city"] = None
    sess = ort.InferenceSession(fm.onnx.to_onnx(model).SerializeToString(), providers=["CPUExecutionProvider"])
    feed = onnx_feed(new, model)
    missing = sess.run(None, feed)[0]
    np.testing.assert_allclose(missing, model.forward(new), rtol=1e-12, atol=1e-12)
    assert {"", "NA", "nan", "NULL", "<NA>", "#N/A", "None"} <= set(fm._core.MISSING_CELLS)
    for marker in fm._core.MISSING_CELLS:
        feed["city"][:] = marker
        np.testing.assert_array_equal(sess.run(None, feed)[0], missing)
    feed["city"][:] = "NA "  # not a marker: out of vocabulary, another row
    new["city"] = "NA "
    unseen = sess.run(None, feed)[0]
    np.testing.assert_allclose(unseen, model.forward(new), rtol=1e-12, atol=1e-12)
    assert np.abs(unseen - missing).max() > 0


def test_validation_evaluate_and_string_labels_take_dataframes():
    df, y = frame(300)
    val_df, val_y = frame(100, seed=5)
    names = np.array(["no", "yes"])[y]
    model = fm.Sequential([fm.Dense(8, "relu"), fm.Dense(2, "softmax")], seed=0)
    history = model.fit(df, names, validation_data=(val_df, np.array(["no", "yes"])[val_y]), epochs=2, verbose=0)
    assert "val_loss" in history.history
    assert set(model.predict(val_df)) <= {"no", "yes"}
    loss, accuracy = model.evaluate(val_df, np.array(["no", "yes"])[val_y])
    assert np.isfinite(loss) and 0 <= accuracy <= 1
    split = fm.Sequential([fm.Dense(8, "relu"), fm.Dense(2, "softmax")], seed=0)
    assert "val_loss" in split.fit(df, y, validation_split=0.2, epochs=1, verbose=0).history


# --- CUDA: the same layer on the GPU engine (skipped without a CUDA device) -----------------------


@pytest.mark.gpu
@pytest.mark.skipif(not fm.cuda_available(), reason="no CUDA device")
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_cuda_runs_the_column_embedding_as_the_cpu(dtype):
    tol = {"float32": 1e-5, "float64": 1e-12}[dtype]
    df, y = frame(90, missing=True)
    cpu = fitted(df, y, fm.ColumnEmbedding(fill_missing=True), epochs=1, dtype=dtype)
    gpu = cpu.copy().to("cuda")
    np.testing.assert_allclose(gpu.forward(df), cpu.forward(df), rtol=tol, atol=tol)
    for model in (cpu, gpu):  # one full-batch SGD step: the tables move by the same gradient
        model.optimizer = fm.SGD(0.1)
        model.fit(df, y, epochs=1, batch_size=None, shuffle=False, verbose=False)
    for name, table in cpu.layers[0].embeddings.items():
        np.testing.assert_allclose(gpu.layers[0].embeddings[name], table, rtol=tol, atol=tol)


@pytest.mark.parametrize(
    "tables, message",
    [
        ("9:3x2", "names column 9 of 3"),
        ("1:3x2,1:4x2", "must list the columns in increasing order"),
        ("1:0x2", "has a table size"),
        ("1:3x", "is malformed"),
        ("1:3x2,", "is malformed"),
        ("1: 3x2", "is malformed"),
        ("-1:3x2", "is malformed"),
        ("1:99999999999x2", "has a table size"),
    ],
)
def test_the_cpp_layer_refuses_bad_tables(tables, message):
    out = {"type": "Dense", "n_in": 4, "n_out": 1, "activation": "linear", "alpha": None}
    with pytest.raises(ValueError, match=r"layers\[0\]\.tables " + message):
        fm._core.Network64([{"type": "ColumnEmbedding", "n_in": 3, "tables": tables}, out], "mse", 0.0)
    net = fm._core.Network64([{"type": "ColumnEmbedding", "n_in": 3, "tables": "1:3x2"}, out], "mse", 0.0)
    assert net.num_params == 3 * 2 + 4 + 1


def test_a_file_with_a_bad_vocabulary_is_refused(tmp_path):
    df, y = frame(40)
    model = fitted(df, y, epochs=1)
    good = model.layers[0].columns.to_json()
    for bad in (
        good.replace('"kind":"number"', '"kind":"text"'),
        good.replace('"dim":', '"dim":-'),
        good.replace('"name":"flag"', '"name":"city"'),
        '{"columns": 3}',
        "[1, 2]",
    ):
        with pytest.raises(ValueError, match="vocabulary"):
            fm.ColumnEmbedding(vocabulary=bad)
    entry = model.layers[0].file_entry()
    with pytest.raises(ValueError, match="do not match"):
        fm.Layer.from_file_entry(dict(entry, tables=entry["tables"].replace("x", "x1", 1)))


@pytest.mark.parametrize(
    "cells", [[[1], [2]], [{"a": 1}, {}], [np.zeros(2), np.ones(2)]], ids=["list", "dict", "ndarray"]
)
def test_unhashable_cells_are_a_type_error_naming_the_column(cells):
    """Audit: a column of lists, dicts or arrays raised "TypeError: unhashable type: 'list'" from
    the vocabulary's look-up, naming neither the column nor the cell; now as a tuple's cells do."""
    X = np.random.default_rng(0).normal(size=(20, 1))
    df = pd.DataFrame({"x": X[:, 0], "kind": pd.Series(cells * 10)})
    model = fm.Sequential([fm.Dense(2, "softmax")], seed=0)
    with pytest.raises(TypeError, match=r"X column 'kind' holds the category .* categories must be strings"):
        model.fit(df, np.arange(20) % 2, epochs=1)
    assert not model.built
