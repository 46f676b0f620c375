"""The ONNX label output: a classifier's graph gives ``model.predict`` (class labels of any stored
kind) beside ``model.forward``, for models fitted in Python, trained by the CLI, loaded from a file
and with an old CLI labels file; regression and multi-label models have none."""

import hashlib
import json

import numpy as np
import pytest

import fastmlp as fm
from test_cli import run

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
fonnx = pytest.importorskip("fastmlp.onnx")


def session(model, **kwargs):
    return ort.InferenceSession(fonnx.to_onnx(model, **kwargs).SerializeToString(), providers=["CPUExecutionProvider"])


def onnx_run(model, X, **kwargs):
    """{output name: value} of the exported model on raw rows X."""
    sess = session(model, **kwargs)
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(None, {sess.get_inputs()[0].name: np.asarray(X, dtype=model.dtype)})))


def check_labels(model, X, onnx_type):
    """The label output is predict, element for element, and of the stated ONNX type; the probabilities
    stay the first output, named "output"."""
    sess = session(model)
    assert [o.name for o in sess.get_outputs()] == ["output", "label"]
    assert sess.get_outputs()[1].type == onnx_type
    probs, labels = sess.run(None, {"input": np.asarray(X, dtype=model.dtype)})
    np.testing.assert_allclose(probs, model.forward(X), rtol=1e-5, atol=1e-6)
    expected = model.predict(X)
    assert labels.shape == expected.shape == (len(X),)
    assert labels.tolist() == expected.tolist()
    assert len(set(expected.tolist())) > 1  # the test sees more than one class
    return labels


def data(n=240, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(loc=5.0, scale=3.0, size=(n, 4))  # raw, far from standardized
    ids = (X[:, 0] > 5).astype(int) + (X[:, 1] > 5)
    return X, ids


def normalized_model(X, n_out, dtype, out="softmax"):
    norm = fm.Normalization()
    norm.adapt(X)
    return fm.Sequential([norm, fm.Dense(16, "tanh"), fm.Dense(n_out, out)], dtype=dtype, seed=1)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_string_classes_softmax_and_sigmoid(dtype):
    X, ids = data()
    model = normalized_model(X, 3, dtype)
    model.fit(X, np.array(["cat", "dog", "owl"])[ids], epochs=30, verbose=0)
    labels = check_labels(model, X, "tensor(string)")
    assert set(labels.tolist()) <= {"cat", "dog", "owl"}

    binary = normalized_model(X, 1, dtype, out="sigmoid")
    binary.fit(X, np.where(ids > 0, "yes", "no"), epochs=30, verbose=0)
    check_labels(binary, X, "tensor(string)")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_class_ids_are_int64(dtype):
    X, ids = data()
    model = normalized_model(X, 3, dtype)
    model.fit(X, ids, epochs=30, verbose=0)
    assert check_labels(model, X, "tensor(int64)").dtype == np.int64
    binary = normalized_model(X, 1, dtype, out="sigmoid")
    binary.fit(X, (ids > 0).astype(float), epochs=30, verbose=0)
    assert check_labels(binary, X, "tensor(int64)").dtype == np.int64


def test_bool_float_and_bytes_classes():
    X, ids = data()
    flags = np.array([bool(i) for i in ids > 0], dtype=object)  # Python bools: labels, not ids
    model = normalized_model(X, 2, "float32")
    model.fit(X, flags, epochs=30, verbose=0)
    assert model.classes_.tolist() == [False, True]
    assert check_labels(model, X, "tensor(bool)").dtype == bool

    halves = np.array([0.5, 1.5, 2.5], dtype=object)[ids]
    model = normalized_model(X, 3, "float64")
    model.fit(X, halves, epochs=30, verbose=0)
    assert check_labels(model, X, "tensor(double)").tolist() == model.predict(X).tolist()

    model = normalized_model(X, 3, "float32")
    model.fit(X, np.array([b"a", b"b\xe9", b"c"])[ids], epochs=30, verbose=0)
    sess = session(model)
    labels = sess.run(None, {"input": X.astype(np.float32)})[1]
    assert labels.tolist() == [v.decode("latin-1") for v in model.predict(X).tolist()]  # bytes as Latin-1 text


def test_through_the_model_file_and_to_bytes(tmp_path):
    X, ids = data()
    model = normalized_model(X, 3, "float32")
    model.fit(X, np.array(["setosa", "versicolor", "virginica"])[ids], epochs=30, verbose=0)
    model.save(tmp_path / "m.safetensors")
    loaded = fm.load(tmp_path / "m.safetensors")
    check_labels(loaded, X, "tensor(string)")
    fonnx.export(loaded, tmp_path / "m.onnx")
    sess = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    assert sess.run(["label"], {"input": X.astype(np.float32)})[0].tolist() == model.predict(X).tolist()


def test_integer_classes_of_a_cli_model(tmp_path):
    """The CLI keeps integer labels such as 3, 7, 9 as they are (classes_ [3, 7, 9]); the label output
    gives them as int64, for the file's model and for ``export-onnx``."""
    X, ids = data(seed=3)
    y = np.array([3, 7, 9])[ids]
    rows = ["a,b,c,d,digit"] + [",".join(map(repr, x)) + f",{t}" for x, t in zip(X.tolist(), y.tolist())]
    (tmp_path / "train.csv").write_text("\n".join(rows) + "\n")
    run("train", "train.csv", "--epochs", "20", "--no-progress", "--out", "m.safetensors", cwd=tmp_path, check=0)
    model = fm.load(tmp_path / "m.safetensors")
    assert model.classes_.tolist() == [3, 7, 9]
    labels = check_labels(model, X, "tensor(int64)")
    assert set(labels.tolist()) <= {3, 7, 9}

    done = run("export-onnx", "m.safetensors", "m.onnx", cwd=tmp_path, check=0)
    assert "output 'label'" in done.stdout
    sess = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    got = dict(zip(["output", "label"], sess.run(None, {"input": X.astype(np.float32)})))
    assert got["label"].tolist() == model.predict(X).tolist()

    # ``fastmlp predict`` on the same raw rows says the same
    (tmp_path / "new.csv").write_text("\n".join(r.rsplit(",", 1)[0] for r in rows) + "\n")
    run("predict", "m.safetensors", "new.csv", "--out", "p.csv", cwd=tmp_path, check=0)
    cli = [int(line) for line in (tmp_path / "p.csv").read_text().splitlines()[1:]]
    assert cli == got["label"].tolist()


def test_an_old_labels_file_gives_the_label_output_its_classes(tmp_path):
    """A model whose classes are only in an old ``*.labels.json``: export-onnx's labels are those."""
    X, ids = data()
    model = fm.Sequential([fm.Dense(4, 3, "softmax")], seed=0)
    model.fit(X, ids, epochs=5, verbose=0)
    model.save(tmp_path / "old.safetensors")
    sha = hashlib.sha256((tmp_path / "old.safetensors").read_bytes()).hexdigest()
    meta = {"fastmlp_labels": 1, "model_sha256": sha, "task": "classify", "classes": ["a", "b", "c"]}
    (tmp_path / "old.labels.json").write_text(json.dumps({**meta, "target": None, "features": None}))
    run("export-onnx", "old.safetensors", "old.onnx", cwd=tmp_path, check=0)
    sess = ort.InferenceSession(str(tmp_path / "old.onnx"), providers=["CPUExecutionProvider"])
    labels = sess.run(["label"], {"input": X.astype(np.float32)})[0]
    assert labels.tolist() == np.array(["a", "b", "c"])[model.predict(X)].tolist()


def test_no_label_output_for_regression_and_multilabel_and_when_left_out():
    X, ids = data()
    reg = fm.Sequential([fm.Dense(4, 2, "linear")], seed=0)
    assert list(onnx_run(reg, X)) == ["output"]
    multi = fm.Sequential([fm.Dense(4, 3, "sigmoid")], seed=0)
    assert list(onnx_run(multi, X)) == ["output"]
    clf = fm.Sequential([fm.Dense(4, 3, "softmax")], seed=0)
    assert list(onnx_run(clf, X, label_name=None)) == ["output"]
    got = onnx_run(clf, X, input_name="x", output_name="p", label_name="y")
    assert list(got) == ["p", "y"] and got["y"].tolist() == clf.predict(X).tolist()


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"label_name": "output"}, ValueError),
        ({"label_name": "input"}, ValueError),
        ({"label_name": ""}, TypeError),
        ({"label_name": 3}, TypeError),
        ({"output_name": None}, TypeError),
    ],
)
def test_bad_names(kwargs, error, tmp_path):
    clf = fm.Sequential([fm.Dense(4, 3, "softmax")], seed=0)
    with pytest.raises(error, match="_name"):
        fonnx.export(clf, tmp_path / "x.onnx", **kwargs)
    assert not (tmp_path / "x.onnx").exists()
