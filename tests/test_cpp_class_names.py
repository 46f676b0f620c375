"""The C++ API's class and column names (fastmlp::load_model, class_names, feature_names,
Model::predict_class in fastmlp/serialize.hpp), through tests/cpp/serialize_tool built against the
installed package: the names are Python's ``str`` of ``classes_``'s elements, the predicted class of
each row is ``fm.load(...).predict``'s, for every label dtype a model file stores."""

import subprocess

import numpy as np
import pandas as pd
import pytest

import fastmlp as fm
from fastmlp import _persist
from fastmlp import io as fio


def tool(build, *args, code=0):
    res = subprocess.run([str(build / "serialize_tool"), *map(str, args)], capture_output=True, text=True)
    assert res.returncode == code, res.stdout + res.stderr
    return res


def names(build, path, ctype="double"):
    out = tool(build, "names", ctype, path).stdout.splitlines()
    return [line[6:] for line in out if line.startswith("class ")], [
        line[8:] for line in out if line.startswith("feature ")
    ]


def classify(build, path, X, ctype="double"):
    np.ascontiguousarray(X, dtype="<f8").tofile(path.parent / "X.bin")
    return tool(build, "classify", ctype, path, path.parent / "X.bin", *X.shape).stdout.splitlines()


def blobs(n=150, seed=0):
    rng = np.random.default_rng(seed)
    ids = np.arange(n) % 3
    X = rng.normal(size=(n, 3)) + 3.0 * np.eye(3)[ids] + 10.0  # raw: far from standardized
    return X, ids


def fitted(X, y, n_out, out="softmax", dtype="float64"):
    norm = fm.Normalization()
    norm.adapt(X)
    model = fm.Sequential([norm, fm.Dense(8, "tanh"), fm.Dense(n_out, out)], dtype=dtype, seed=2)
    model.fit(X, y, epochs=40, verbose=0)
    return model


@pytest.mark.parametrize("dtype, ctype", [("float64", "double"), ("float32", "float"), ("float32", "double")])
def test_string_classes_and_column_names_of_a_dataframe_model(cpp_tests_build, tmp_path, dtype, ctype):
    X, ids = blobs()
    df = pd.DataFrame(X, columns=["sepal length", "width", "x_3"])
    y = np.array(["setosa", "versicolor", "virginica"])[ids]
    model = fitted(df, y, 3, dtype=dtype)
    model.save(tmp_path / "m.safetensors")
    classes, features = names(cpp_tests_build, tmp_path / "m.safetensors", ctype)
    assert classes == ["setosa", "versicolor", "virginica"] and features == ["sepal length", "width", "x_3"]
    predicted = model.predict(df)
    assert len(set(predicted)) == 3
    assert classify(cpp_tests_build, tmp_path / "m.safetensors", X, ctype) == predicted.tolist()


def test_class_ids_binary_and_a_model_without_names(cpp_tests_build, tmp_path):
    X, ids = blobs()
    model = fitted(X, ids, 3)
    model.save(tmp_path / "ids.safetensors")
    assert names(cpp_tests_build, tmp_path / "ids.safetensors") == (["0", "1", "2"], [])
    assert classify(cpp_tests_build, tmp_path / "ids.safetensors", X) == [str(c) for c in model.predict(X)]

    binary = fitted(X, np.where(ids == 0, "no", "yes"), 1, out="sigmoid")
    binary.save(tmp_path / "bin.safetensors")
    assert names(cpp_tests_build, tmp_path / "bin.safetensors")[0] == ["no", "yes"]
    assert classify(cpp_tests_build, tmp_path / "bin.safetensors", X) == binary.predict(X).tolist()

    sigmoid_ids = fitted(X, (ids == 0).astype(float), 1, out="sigmoid")
    sigmoid_ids.save(tmp_path / "bin_ids.safetensors")
    assert names(cpp_tests_build, tmp_path / "bin_ids.safetensors")[0] == ["0", "1"]
    assert classify(cpp_tests_build, tmp_path / "bin_ids.safetensors", X) == [str(c) for c in sigmoid_ids.predict(X)]


def test_regression_and_multilabel_predict_no_class(cpp_tests_build, tmp_path):
    X, ids = blobs()
    for name, layer in (("reg", fm.Dense(3, 2, "linear")), ("multi", fm.Dense(3, 2, "sigmoid"))):
        fm.Sequential([layer], seed=0).save(tmp_path / f"{name}.safetensors")
        assert names(cpp_tests_build, tmp_path / f"{name}.safetensors") == ([], [])
        np.ascontiguousarray(X, dtype="<f8").tofile(tmp_path / "X.bin")
        res = tool(
            cpp_tests_build,
            "classify",
            "double",
            tmp_path / f"{name}.safetensors",
            tmp_path / "X.bin",
            *X.shape,
            code=2,
        )
        assert "predict_class needs a classifier" in res.stderr and "predicts no class" in res.stderr


# Labels of every dtype a model file stores (fastmlp/_persist.py), some of which only a file can hold
# (fit keeps integer labels as class ids): the C++ names are str() of classes_'s elements.
LABELS = [
    np.array([3, 7, 9]),
    np.array([-5, 0, 2**40], dtype=np.int64),
    np.array([1, 200, 255], dtype=np.uint8),
    np.array([0, 1, 2**64 - 1], dtype=np.uint64),
    np.array([False, True]),
    np.array([False, True], dtype=object),
    np.array([0.5, 1.0, 2.5]),
    np.array([1e-05, 0.0001, 123456789.0, 1e15, 1e16]),
    np.array([-1.5e20, -0.0, 3e-07]),
    np.array([1e-4, 0.1, 999999.0, 1e6, 9999999.0, 1.5e20], dtype=np.float32),
    np.array([0.0001, 100.0, 999.0, 1000.0, 65504.0], dtype=np.float16),
    np.array([1, 2.5, 7], dtype=object),
    np.array(["a", "caf\u00e9", "x,y", "\u732b"]),
    np.array([b"a", b"b\xe9", b"zz"]),
]


@pytest.mark.parametrize("classes", LABELS, ids=lambda c: f"{c.dtype.str}:{c.tolist()[:2]}")
def test_every_stored_label_dtype_prints_as_python(cpp_tests_build, tmp_path, classes):
    k = len(classes)
    model = fm.Sequential([fm.Dense(3, 1 if k == 2 else k, "sigmoid" if k == 2 else "softmax")], seed=0)
    path = tmp_path / "m.safetensors"
    fio.write(path, model._net, _persist.label_metadata(classes, None))
    loaded = fm.load(path)
    assert loaded.classes_.tolist() == classes.tolist()
    expected = [v.decode("latin-1") if isinstance(v, bytes) else str(v) for v in loaded.classes_]
    assert names(cpp_tests_build, path)[0] == expected
    X = np.random.default_rng(0).normal(scale=5.0, size=(40, 3))
    predicted = loaded.predict(X)
    assert classify(cpp_tests_build, path, X) == [
        v.decode("latin-1") if isinstance(v, bytes) else str(v) for v in predicted
    ]


@pytest.mark.parametrize(
    "entry, message",
    [
        ('{"dtype": "<U1", "values": ["a", "b"]}', "lists 2 labels but the model predicts 3 classes"),
        ('{"dtype": "<U1", "values": ["a", "b", 3]}', "values[2] = 3 is not a label of its dtype"),
        ('{"dtype": "<c16", "values": [1, 2, 3]}', "dtype '<c16' is not one labels are stored in"),
        ('["a", "b", "c"]', "must be an object"),
        ('{"dtype": "<U1", "values": [' + ",".join(['"a"'] * 500) + "]}", "lists more than 67 labels"),
        ('{"dtype": "<U1", "values": [', "is not valid JSON"),
    ],
)
def test_a_bad_classes_entry_is_a_clear_error_at_load_model(cpp_tests_build, tmp_path, entry, message):
    """Only load_model reads the names: load_network reads such a file as before."""
    model = fm.Sequential([fm.Dense(3, 3, "softmax")], seed=0)
    path = tmp_path / "bad.safetensors"
    fio.write(path, model._net, {"classes": entry})
    res = tool(cpp_tests_build, "names", "double", path, code=2)
    assert "not a valid fastmlp model file: metadata 'classes'" in res.stderr and message in res.stderr, res.stderr
    assert tool(cpp_tests_build, "check", "double", path).stdout.strip() == "OK"


def test_a_bad_feature_names_entry_is_a_clear_error(cpp_tests_build, tmp_path):
    model = fm.Sequential([fm.Dense(3, 3, "softmax")], seed=0)
    for entry, message in (
        ('["a", "b"]', "lists 2 names for a model with 3 inputs"),
        ('["a", 1, "c"]', "list of strings"),
    ):
        fio.write(tmp_path / "bad.safetensors", model._net, {"feature_names_in": entry})
        res = tool(cpp_tests_build, "names", "double", tmp_path / "bad.safetensors", code=2)
        assert "metadata 'feature_names_in'" in res.stderr and message in res.stderr, res.stderr
