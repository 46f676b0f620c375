"""The C API (fastmlp/fastmlp.h, issue 29): the installed libfastmlp_c.so through Python's ctypes
predicts what fm.load(path) predicts (float32 and float64 models, classifiers, regressors,
Normalization layers, quantized int8 models, one row at a time through the row kernel of a chain of
Dense layers), hostile files give a status and a message, and the C test program (tests/c, a C11
program: allocations, locks, threads, Python's predictions, the fuzz corpus) builds against the
installed package and passes under ctest and on an int8 model and a Dense chain."""

import ctypes
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

import fastmlp as fm
from cmake_projects import ROOT, cmake_project, have_toolchain

LIB_PATH = Path(fm.cmake_dir()).parents[1] / "libfastmlp_c.so"
OK, INVALID_ARGUMENT, INVALID_MODEL, IO, NOT_CLASSIFIER, BUSY = 0, 1, 2, 3, 5, 6
REGRESSION, CLASSIFICATION, MULTILABEL = 0, 1, 2

f32p = np.ctypeslib.ndpointer(np.float32, flags="C_CONTIGUOUS")
f64p = np.ctypeslib.ndpointer(np.float64, flags="C_CONTIGUOUS")
i32p = np.ctypeslib.ndpointer(np.int32, flags="C_CONTIGUOUS")
P, S = ctypes.c_void_p, ctypes.c_size_t


@pytest.fixture(scope="module")
def lib():
    lib = ctypes.CDLL(str(LIB_PATH))
    sigs = {
        "fastmlp_last_error": ([], ctypes.c_char_p),
        "fastmlp_version": ([], ctypes.c_char_p),
        "fastmlp_model_load": ([ctypes.c_char_p, ctypes.POINTER(P)], ctypes.c_int),
        "fastmlp_model_load_bytes": ([ctypes.c_char_p, S, ctypes.POINTER(P)], ctypes.c_int),
        "fastmlp_model_free": ([P], None),
        "fastmlp_model_class_label": ([P, S, ctypes.POINTER(ctypes.c_char_p)], ctypes.c_int),
        "fastmlp_model_feature_name": ([P, S, ctypes.POINTER(ctypes.c_char_p)], ctypes.c_int),
        "fastmlp_model_has_feature_names": ([P, ctypes.POINTER(ctypes.c_int)], ctypes.c_int),
        "fastmlp_model_dtype": ([P, ctypes.POINTER(ctypes.c_int)], ctypes.c_int),
        "fastmlp_model_task": ([P, ctypes.POINTER(ctypes.c_int)], ctypes.c_int),
        "fastmlp_workspace_create": ([P, S, ctypes.POINTER(P)], ctypes.c_int),
        "fastmlp_workspace_free": ([P], None),
    }
    for what in ("n_inputs", "n_outputs", "n_classes"):
        sigs[f"fastmlp_model_{what}"] = ([P, ctypes.POINTER(S)], ctypes.c_int)
    for name, (arg, out) in {"": (f32p, f32p), "_f64": (f64p, f64p)}.items():
        sigs[f"fastmlp_predict{name}"] = ([P, arg, S, out], ctypes.c_int)
        sigs[f"fastmlp_predict_proba{name}"] = ([P, arg, S, out], ctypes.c_int)
        sigs[f"fastmlp_predict_class{name}"] = ([P, arg, S, i32p], ctypes.c_int)
    for name, (args, res) in sigs.items():
        getattr(lib, name).argtypes, getattr(lib, name).restype = args, res
    return lib


class CModel:
    """A model loaded through the C API, with a workspace of max_rows rows."""

    def __init__(self, lib, source, max_rows=64):
        self.lib, self.handle, self.ws = lib, P(), P()
        if isinstance(source, bytes):
            status = lib.fastmlp_model_load_bytes(source, len(source), ctypes.byref(self.handle))
        else:
            status = lib.fastmlp_model_load(str(source).encode(), ctypes.byref(self.handle))
        assert status == OK, lib.fastmlp_last_error()
        assert lib.fastmlp_workspace_create(self.handle, max_rows, ctypes.byref(self.ws)) == OK

    def __del__(self):
        self.lib.fastmlp_workspace_free(self.ws)
        self.lib.fastmlp_model_free(self.handle)

    def query(self, what, ctype=S):
        value = ctype()
        assert getattr(self.lib, f"fastmlp_model_{what}")(self.handle, ctypes.byref(value)) == OK
        return value.value

    def text(self, what, i):
        value = ctypes.c_char_p()
        status = getattr(self.lib, f"fastmlp_model_{what}")(self.handle, i, ctypes.byref(value))
        assert status == OK, self.lib.fastmlp_last_error()
        return value.value.decode()

    def call(self, kind, X, width, dtype):
        out = np.full((X.shape[0], width), -1, dtype)
        status = getattr(self.lib, f"fastmlp_{kind}")(self.ws, np.ascontiguousarray(X), X.shape[0], out)
        return status, out

    def predict(self, X):
        name, dtype = ("predict", np.float32) if X.dtype == np.float32 else ("predict_f64", np.float64)
        status, out = self.call(name, X, self.query("n_outputs"), dtype)
        assert status == OK, self.lib.fastmlp_last_error()
        return out

    def predict_proba(self, X):
        name, dtype = ("predict_proba", np.float32) if X.dtype == np.float32 else ("predict_proba_f64", np.float64)
        status, out = self.call(name, X, self.query("n_classes"), dtype)
        assert status == OK, self.lib.fastmlp_last_error()
        return out

    def predict_labels(self, X):
        status, ids = self.call("predict_class" + ("_f64" if X.dtype == np.float64 else ""), X, 1, np.int32)
        assert status == OK, self.lib.fastmlp_last_error()
        return [self.text("class_label", int(i)) for i in ids[:, 0]]


def _blobs(m=120, n=5, k=3, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, size=m)
    X = rng.normal(size=(m, n)) * np.array([1.0, 100.0, 0.01, 5.0, 1e3])[:n] + y[:, None] * 2.0
    return X, y


def _models(tmp_path):
    """(path, fitted model) for each kind of model the C API must run as Python does."""
    pd = pytest.importorskip("pandas")
    X, y = _blobs()
    models = {}
    # float32, Normalization first, 3 string classes, fitted on a DataFrame (feature names)
    frame = pd.DataFrame(X, columns=[f"col{j}" for j in range(5)])
    m = fm.Sequential(
        [fm.Normalization().adapt(X), fm.Dense(5, 16, "relu"), fm.Dense(16, 3, "softmax")], dtype="float32", seed=1
    )
    m.fit(frame, np.array(["cat", "dog", "emu"])[y], epochs=20, batch_size=16)
    models["softmax_f32"] = m
    # float64 regressor with 2 outputs in the targets' units (Normalization first and inverted last)
    Y = np.column_stack([X[:, 0] * 3.0 + 100.0, np.sin(X[:, 3])])
    m = fm.Sequential(
        [fm.Normalization().adapt(X), fm.Dense(5, 12, "tanh"), fm.Dense(12, 2), fm.Normalization(invert=True).adapt(Y)],
        dtype="float64",
        loss="mse",
        seed=2,
    )
    m.fit(X, Y, epochs=20, batch_size=16)
    models["regressor_f64"] = m
    # float64, one sigmoid output, labels "no" and "yes"; batch and layer normalization, dropout, a residual block
    m = fm.Sequential(
        [
            fm.Normalization().adapt(X),
            fm.Dense(5, 8, "leaky_relu"),
            fm.BatchNormalization(),
            fm.Dropout(0.2),
            fm.Residual([fm.Dense(8, 8, "gelu"), fm.LayerNormalization()]),
            fm.Dense(8, 1, "sigmoid"),
        ],
        dtype="float64",
        seed=3,
    )
    m.fit(X, np.where(y == 1, "yes", "no"), epochs=20, batch_size=16)
    models["sigmoid_f64"] = m
    # float32 multi-label: 3 sigmoid outputs, each a yes/no
    m = fm.Sequential([fm.Normalization().adapt(X), fm.Dense(5, 3, "sigmoid")], dtype="float32", seed=4)
    m.fit(X, np.maximum(np.eye(3)[y], X[:, :3] > 0), epochs=10, batch_size=16)  # rows with several labels
    models["multilabel_f32"] = m
    paths = {}
    for name, model in models.items():
        paths[name] = tmp_path / f"{name}.safetensors"
        model.save(paths[name])
    return paths, X


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    return _models(tmp_path_factory.mktemp("capi_models"))


@pytest.mark.parametrize("name", ["softmax_f32", "regressor_f64", "sigmoid_f64", "multilabel_f32"])
def test_predictions_equal_python(lib, saved, name):
    paths, X = saved
    py = fm.load(paths[name])
    c = CModel(lib, paths[name])
    task = c.query("task", ctypes.c_int)
    assert c.query("n_inputs") == 5 and c.query("n_outputs") == py.n_outputs
    assert c.query("dtype", ctypes.c_int) == (1 if py.dtype == np.float32 else 2)
    Xd = X[:50].astype(py.dtype)  # the model's dtype: the same code, the same rows, the same bits
    np.testing.assert_array_equal(c.predict(Xd), py.forward(Xd))
    if task == REGRESSION:
        assert c.query("n_classes") == 0
        np.testing.assert_array_equal(c.predict(Xd), py.predict(Xd).reshape(50, -1))
        status, _ = c.call("predict_proba" + ("_f64" if py.dtype == np.float64 else ""), Xd, 2, py.dtype)
        assert status == NOT_CLASSIFIER and b"regression" in lib.fastmlp_last_error()
        return
    np.testing.assert_array_equal(c.predict_proba(Xd), py.predict_proba(Xd))
    labels = [c.text("class_label", i) for i in range(c.query("n_classes"))]
    assert labels == [str(v) for v in py.classes_]
    if task == MULTILABEL:
        status, _ = c.call("predict_class", Xd, 1, np.int32)
        assert status == NOT_CLASSIFIER and b"multi-label" in lib.fastmlp_last_error()
    else:
        assert task == CLASSIFICATION
        assert c.predict_labels(Xd) == [str(v) for v in py.predict(Xd)]


def test_the_other_dtype_converts(lib, saved):
    """float32 entry points on a float64 model and the other way round: Python's answer for X cast
    to the model's dtype, cast to the entry point's."""
    paths, X = saved
    for name in ("softmax_f32", "regressor_f64"):
        py, c = fm.load(paths[name]), CModel(lib, paths[name])
        other = np.float64 if py.dtype == np.float32 else np.float32
        Xo = X[:40].astype(other)
        expected = py.forward(Xo.astype(py.dtype)).astype(other)
        np.testing.assert_array_equal(c.predict(Xo), expected)


def test_one_row_chunks_and_bytes(lib, saved):
    """One row at a time (max_rows 1), chunks of 7 rows, and a model loaded from bytes agree with
    Python (the product's summation order may differ with the row count: float32 rounding)."""
    paths, X = saved
    py = fm.load(paths["softmax_f32"])
    Xf = X.astype(np.float32)
    expected = py.forward(Xf)
    one = CModel(lib, paths["softmax_f32"], max_rows=1)
    rows = np.vstack([one.predict(Xf[i : i + 1]) for i in range(len(Xf))])
    np.testing.assert_allclose(rows, expected, rtol=1e-5, atol=1e-6)
    chunks = CModel(lib, paths["softmax_f32"].read_bytes(), max_rows=7)
    np.testing.assert_allclose(chunks.predict(Xf), expected, rtol=1e-5, atol=1e-6)
    assert [chunks.text("feature_name", j) for j in range(5)] == [f"col{j}" for j in range(5)]
    assert chunks.query("has_feature_names", ctypes.c_int) == 1


def test_bad_rows_give_a_status_and_write_nothing(lib, saved):
    paths, X = saved
    c = CModel(lib, paths["softmax_f32"], max_rows=4)
    Xf = X[:10].astype(np.float32)
    Xf[9, 3] = np.inf
    status, out = c.call("predict", Xf, 3, np.float32)
    assert status == INVALID_ARGUMENT and b"X[9, 3] is NaN or infinite" in lib.fastmlp_last_error()
    assert (out == -1).all()  # the first chunks were not written either
    X64 = X[:3].copy()
    X64[1, 0] = 1e300  # finite as a double, infinite as the model's float32
    status, _ = c.call("predict_f64", X64, 3, np.float64)
    assert status == INVALID_ARGUMENT and b"X[1, 0] is NaN or infinite as a float32" in lib.fastmlp_last_error()


def test_hostile_files_give_a_status_and_a_message(lib, saved, tmp_path):
    paths, _ = saved
    good = paths["sigmoid_f64"].read_bytes()
    cases = [good[:n] for n in (0, 7, 8, 100, len(good) // 2, len(good) - 1)]
    cases += [b"\xff" * 8 + good[8:], (10**8 + 1).to_bytes(8, "little") + good[8:], b"not a model at all"]
    for data in cases:
        handle = P()
        status = lib.fastmlp_model_load_bytes(data, len(data), ctypes.byref(handle))
        assert status == INVALID_MODEL and handle.value is None
        assert lib.fastmlp_last_error().startswith(b"fastmlp_model_load_bytes: not a valid fastmlp model file")
    corpus = sorted((ROOT / "tests" / "fuzz" / "corpus").iterdir())
    assert len(corpus) >= 10
    for path in corpus:
        handle = P()
        status = lib.fastmlp_model_load(str(path).encode(), ctypes.byref(handle))
        assert status in (OK, INVALID_MODEL), (path.name, status)
        if status == OK:
            lib.fastmlp_model_free(handle)
        else:
            assert b"not a valid fastmlp model file" in lib.fastmlp_last_error(), path.name
    # class labels that are not what Python writes: refused by the C API as by fm.load
    for entry, message in [
        ('{"dtype":"<U3","values":["a","b","c"]}', b"lists 3 labels but the model predicts 2 classes"),
        ('{"dtype":"<U3","values":[["a"],"b"]}', b"holds a list or an object where a label goes"),
        ('{"values":["a","b"]}', b'must be an object {"dtype"'),
        ("[" * 100000, b"metadata 'classes'"),
    ]:
        model = fm.load(paths["sigmoid_f64"])
        data = bytearray(model.to_bytes())
        n = int.from_bytes(data[:8], "little")
        header = json.loads(data[8 : 8 + n])
        header["__metadata__"]["classes"] = entry
        text = json.dumps(header).encode()
        text += b" " * (-len(text) % 8)
        bad = len(text).to_bytes(8, "little") + text + bytes(data[8 + n :])
        handle = P()
        assert lib.fastmlp_model_load_bytes(bytes(bad), len(bad), ctypes.byref(handle)) == INVALID_MODEL
        assert message in lib.fastmlp_last_error(), lib.fastmlp_last_error()
        with pytest.raises(ValueError, match="not a valid fastmlp model file"):
            fm.Sequential.from_bytes(bytes(bad))
    handle = P()
    assert lib.fastmlp_model_load(str(tmp_path / "missing.safetensors").encode(), ctypes.byref(handle)) == IO


def test_a_workspace_in_use_answers_busy(lib, tmp_path):
    """Two threads on one workspace: the second gets FASTMLP_ERR_BUSY (it never waits), the first
    finishes with the right outputs. (ctypes releases the GIL during the call.) Which thread comes
    first is the scheduler's: the worker retries until its large call runs."""
    model = fm.Sequential([fm.Dense(784, 256, "relu"), fm.Dense(256, 128, "relu"), fm.Dense(128, 10, "softmax")])
    path = tmp_path / "big.safetensors"
    X = np.random.default_rng(0).normal(size=(20000, 784)).astype(np.float32)
    model.predict(X[:1])
    model.save(path)
    c = CModel(lib, path, max_rows=256)
    result = {}

    def work():  # the main thread may hold the workspace first: then this call is the BUSY one, and retries
        while True:
            status, out = c.call("predict", X, 10, np.float32)
            if status != BUSY:
                return result.update(status=status, out=out)

    worker = threading.Thread(target=work)
    worker.start()
    seen = set()
    small = np.ascontiguousarray(X[:1])
    while worker.is_alive():
        seen.add(c.call("predict", small, 10, np.float32)[0])
    worker.join()
    assert result["status"] == OK
    np.testing.assert_allclose(result["out"][:100], model.forward(X[:100]), rtol=1e-5, atol=1e-6)
    assert BUSY in seen, seen


def _dense_chain(dtype, widths, activations, loss="categorical_crossentropy", seed=5):
    """An unfitted chain of Dense layers (a Dropout after the second): what one-row calls run through
    the row kernel (cpp/capi/dense_row.cpp)."""
    layers = [fm.Dense(a, b, g) for a, b, g in zip(widths, widths[1:], activations)]
    layers.insert(2, fm.Dropout(0.2))
    return fm.Sequential(layers, dtype=dtype, loss=loss, seed=seed)


# Widths with partial vectors, K not a multiple of the sets of sums, rows of several column blocks, a layer
# of >= 64 KB (the 4-stream path: 101 x 170 float32, K = 101 = 4 * 25 + 1), activations applied in
# registers (tanh, relu, leaky_relu, linear) and by the core afterwards (elu, gelu, sigmoid, softmax).
CHAINS = {
    "classifier": (
        [5, 37, 101, 170, 9, 20, 11, 3],
        ["tanh", "relu", "leaky_relu", "elu", "gelu", "sigmoid", "softmax"],
    ),
    "regressor": ([5, 16, 8, 1], ["relu", "tanh", "linear"]),
    "tanh_out": ([5, 130, 130, 2], ["linear", "relu", "tanh"]),
}


def _chain_files(tmp_path, dtype):
    X = np.random.default_rng(7).normal(size=(40, 5)) * 2.0
    for name, (widths, activations) in CHAINS.items():
        loss = "categorical_crossentropy" if name == "classifier" else "mse"
        path = tmp_path / f"{name}_{dtype}.safetensors"
        _dense_chain(dtype, widths, activations, loss).save(path)
        yield name, path, X.astype(dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_one_row_kernel_equals_the_batch_pass(lib, tmp_path, dtype):
    """One row at a time (the row kernel) gives Python's outputs to float rounding (its sums run in
    another order than the GEMM's); several rows (the LayerStack pass) give Python's bits."""
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == "float32" else dict(rtol=1e-12, atol=1e-13)
    for name, path, X in _chain_files(tmp_path, dtype):
        expected = fm.load(path).forward(X)
        one = CModel(lib, path, max_rows=1)
        rows = np.vstack([one.predict(X[i : i + 1]) for i in range(len(X))])
        np.testing.assert_allclose(rows, expected, **tol, err_msg=name)
        np.testing.assert_array_equal(CModel(lib, path).predict(X), expected, err_msg=name)


def test_one_row_kernel_portable_loops(tmp_path):
    """FASTMLP_ARCH=v2 (the portable build, as on a CPU without AVX2): the row kernel's plain loops
    agree with Python too (a fresh process: the level is picked once)."""
    for dtype in ("float32", "float64"):
        for name, path, X in _chain_files(tmp_path, dtype):
            np.save(tmp_path / "X.npy", X)
            code = f"""
import ctypes, numpy as np
P, S = ctypes.c_void_p, ctypes.c_size_t
lib = ctypes.CDLL({str(LIB_PATH)!r})
m, ws = P(), P()
assert lib.fastmlp_model_load({str(path)!r}.encode(), ctypes.byref(m)) == 0
assert lib.fastmlp_workspace_create(m, S(1), ctypes.byref(ws)) == 0
n_out = S()
lib.fastmlp_model_n_outputs(m, ctypes.byref(n_out))
X = np.load({str(tmp_path / "X.npy")!r})
out = np.zeros((len(X), n_out.value), X.dtype)
f = lib.fastmlp_predict if X.dtype == np.float32 else lib.fastmlp_predict_f64
f.argtypes = [P, P, S, P]
for i in range(len(X)):
    assert f(ws, X[i].ctypes.data, 1, out[i].ctypes.data) == 0
np.save({str(tmp_path / "out.npy")!r}, out)
"""
            env = dict(os.environ, FASTMLP_ARCH="v2")
            done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
            assert done.returncode == 0, done.stderr
            tol = dict(rtol=1e-5, atol=1e-6) if dtype == "float32" else dict(rtol=1e-12, atol=1e-13)
            rows = np.load(tmp_path / "out.npy")
            np.testing.assert_allclose(rows, fm.load(path).forward(X), **tol, err_msg=f"{name} {dtype}")


def _int8_classifier(path):
    X, y = _blobs()
    m = fm.Sequential(
        [fm.Normalization().adapt(X), fm.Dense(5, 24, "relu"), fm.Dense(24, 3, "softmax")], dtype="float32", seed=6
    )
    m.fit(X, np.array(["cat", "dog", "emu"])[y], epochs=20, batch_size=16)
    m.quantize("int8")
    m.save(path)
    return X.astype(np.float32)


def test_int8_classifier_equals_python(lib, tmp_path):
    """A quantized model (model.quantize("int8")) through the C API: Python's outputs, probabilities
    and labels, bit for bit, in a batch and one row at a time; two workspaces of the model predicting
    at once from two threads (each packs its own int8 weights when it is made, from the model's
    read-only ones) give the same."""
    path = tmp_path / "int8.safetensors"
    X = _int8_classifier(path)[:60]
    py, c = fm.load(path), CModel(lib, path)
    np.testing.assert_array_equal(c.predict(X), py.forward(X))
    np.testing.assert_array_equal(c.predict_proba(X), py.predict_proba(X))
    assert c.predict_labels(X) == [str(v) for v in py.predict(X)]
    one = CModel(lib, path, max_rows=1)
    np.testing.assert_array_equal(np.vstack([one.predict(X[i : i + 1]) for i in range(len(X))]), py.forward(X))
    outs = {}

    def work(k):
        w = CModel(lib, path, max_rows=1)
        outs[k] = [np.vstack([w.predict(X[i : i + 1]) for i in range(len(X))]) for _ in range(20)]

    threads = [threading.Thread(target=work, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k in range(2):
        for out in outs[k]:
            np.testing.assert_array_equal(out, py.forward(X))


@pytest.mark.skipif(not have_toolchain(), reason="needs cmake and a C++ compiler")
def test_c_program_against_the_installed_package(tmp_path_factory):
    """tests/c: the C11 program linked with fastmlp::c and fastmlp::c_static, run by ctest; then again
    with two more classifiers, a quantized int8 model and a chain of float32 Dense layers with a layer
    of >= 64 KB (the row kernel's two paths): no allocation and no lock per prediction for them too."""
    build = tmp_path_factory.mktemp("c_tests")
    cmake_project(ROOT / "tests" / "c", build)
    done = subprocess.run(["ctest", "--output-on-failure"], cwd=build, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "100% tests passed" in done.stdout
    int8, dense = build / "int8.safetensors", build / "dense.safetensors"
    _int8_classifier(int8)
    _dense_chain("float32", [5, 40, 130, 130, 3], ["tanh", "relu", "leaky_relu", "softmax"]).save(dense)
    fixtures = ROOT / "tests" / "fixtures"
    args = [fixtures / "main_2026-12-06.safetensors", fixtures / "main_2026-12-06_expected.json"]
    args += [ROOT / "tests" / "fuzz" / "corpus", int8, dense]
    for kind in ("c", "c_static"):
        done = subprocess.run([build / f"test_capi_{kind}", *args], capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "allocations and locks counted" in done.stdout and "all checks passed" in done.stdout
