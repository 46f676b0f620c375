"""dtype="mixed_bfloat16" through the API: the policy's attributes and errors, the builder, devices,
build_info and FASTMLP_BF16, the emulation warning, saving, copying, the C API, training every
layer kind, schedules and callbacks, digits, MPI and ONNX. The rounding, the products and a
network against NumPy references (and the tolerances): test_mixed_bf16.py."""

import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

import fastmlp as fm
from fastmlp import _core
from helpers_bf16 import U32, _data, _net

# --- the policy through the API ------------------------------------------------------------------------


def test_policy_attributes_repr_and_errors():
    model = _net("mixed_bfloat16")
    assert model.dtype == np.float32 and model.dtype_policy == "mixed_bfloat16"
    assert model._net.mixed_bfloat16 and model.params.dtype == np.float32
    assert "dtype='mixed_bfloat16'" in repr(model)
    assert "mixed_bfloat16" in model.summary(print_fn=None)
    assert _net("float32").dtype_policy == "float32" and not _net("float32")._net.mixed_bfloat16
    assert _net("float64").dtype_policy == "float64"
    with pytest.raises(TypeError, match="'float32', 'float64' or 'mixed_bfloat16'"):
        fm.Sequential([fm.Dense(2, input_dim=3)], dtype="bfloat16")
    with pytest.raises(ValueError, match="float32 network"):
        _core.Network64([{"type": "Dense", "n_in": 2, "n_out": 1, "activation": "linear"}], "mse").mixed_bfloat16 = True


def test_the_builder_keeps_the_policy():
    # Keras's Sequential() then add(...): the network built when the model is complete, and every rebuild
    # (add, pop, compile with another loss), gets the bf16 products
    model = fm.Sequential(dtype="mixed_bfloat16", seed=0)
    model.add(fm.Input(shape=(6,)))
    model.add(fm.Dense(8, activation="relu"))
    assert model._net.mixed_bfloat16
    model.add(fm.Dense(3, activation="softmax"))
    assert model._net.mixed_bfloat16 and model.dtype_policy == "mixed_bfloat16"
    model.pop()
    model.add(fm.Dense(1))
    model.compile(optimizer="sgd", loss="mse")
    assert model._net.mixed_bfloat16
    X = np.random.default_rng(0).standard_normal((20, 6)).astype(np.float32)
    model.fit(X, X[:, 0], epochs=1, verbose=0)
    lazy = fm.Sequential([fm.Dense(4), fm.Dense(2, activation="softmax")], dtype="mixed_bfloat16")
    assert not lazy.built
    lazy.fit(X, np.arange(20) % 2, epochs=1, verbose=0)  # built by the first fit
    assert lazy._net.mixed_bfloat16


def test_cuda_is_a_clear_not_implemented_error():
    with pytest.raises(NotImplementedError, match="mixed_bfloat16.*CPU only"):
        fm.Sequential([fm.Dense(2, input_dim=3)], dtype="mixed_bfloat16", device="cuda")
    model = _net("mixed_bfloat16")
    with pytest.raises(NotImplementedError, match="CPU only"):
        model.to("cuda")
    assert model.device == "cpu"


def test_build_info_names_the_bf16_kernel():
    info = fm.build_info()
    assert info["bf16"] in ("avx512_bf16", "emulated (avx512)", "emulated (avx2)", "emulated (eigen)")
    assert isinstance(info["cpu_avx512_bf16"], bool)
    if info["bf16"] == "avx512_bf16":
        assert info["cpu_avx512_bf16"] and info["level"] == "v4"
    else:
        assert info["bf16"] == f"emulated ({info['gemm']})"


def _import_with(env: dict) -> subprocess.CompletedProcess:
    """A fresh process's build_info bf16 entries, with FASTMLP_BF16 as `env` says (unset if absent)."""
    code = "import fastmlp as fm; i = fm.build_info(); print(i['bf16']); print(i['bf16_why'])"
    base = {k: v for k, v in os.environ.items() if k != "FASTMLP_BF16"}
    return subprocess.run([sys.executable, "-c", code], env={**base, **env}, capture_output=True, text=True)


def test_bf16_why_gives_the_reason_for_the_emulated_path():
    r = _import_with({})  # the default choice, whatever this process was started with
    kernel, why = (r.stdout.splitlines() + [""])[:2]
    if kernel == "avx512_bf16":
        assert why == ""
    else:
        assert why
        if not fm.build_info()["cpu_avx512_bf16"]:
            assert "no AVX512_BF16" in why


@pytest.mark.parametrize("value", ["fast", "AVX512_BF16", "native", " emulated"])
def test_a_bad_fastmlp_bf16_fails_the_import_naming_it(value):
    r = _import_with({"FASTMLP_BF16": value})
    assert r.returncode != 0
    assert f"FASTMLP_BF16='{value}': expected 'avx512_bf16' or 'emulated'" in r.stderr


def test_fastmlp_bf16_emulated_forces_the_emulated_path():
    r = _import_with({"FASTMLP_BF16": "emulated"})
    assert r.returncode == 0, r.stderr
    kernel, why = r.stdout.splitlines()
    assert kernel == f"emulated ({fm.build_info()['gemm']})"
    assert why == "FASTMLP_BF16='emulated' asks for the emulated path"


def test_fastmlp_bf16_avx512_bf16_runs_the_kernel_or_says_why_not():
    info = fm.build_info()
    r = _import_with({"FASTMLP_BF16": "avx512_bf16"})
    if info["cpu_avx512_bf16"] and info["level"] == "v4":
        assert r.returncode == 0 and r.stdout.splitlines()[0] == "avx512_bf16", r.stderr
    else:  # the import fails, giving the reason (the same words as the default's bf16_why)
        assert r.returncode != 0
        default_why = _import_with({}).stdout.splitlines()[1]
        assert f"FASTMLP_BF16='avx512_bf16': {default_why}" in r.stderr


def test_the_emulation_warning_comes_once_per_process():
    code = (
        "import warnings, fastmlp as fm\n"
        "warnings.simplefilter('always')\n"
        "with warnings.catch_warnings(record=True) as w:\n"
        "    warnings.simplefilter('always')\n"
        "    for _ in range(3):\n"
        "        m = fm.Sequential([fm.Dense(2, input_dim=3)], dtype='mixed_bfloat16')\n"
        "    fm.Sequential([fm.Dense(2, input_dim=3)], dtype='float32')\n"
        "print(len([x for x in w if issubclass(x.category, fm.Bf16EmulationWarning)]))\n"
        "print([str(x.message) for x in w][:1])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    count, message = out.splitlines()[0], out.splitlines()[1]
    if fm.build_info()["bf16"].startswith("emulated"):
        assert count == "1", out
        assert fm.build_info()["bf16_why"] in message and "SLOWER than dtype='float32'" in message
    else:
        assert count == "0", out


def test_save_load_keeps_the_policy_and_float32_weights(tmp_path):
    X, y, _ = _data()
    model = _net("mixed_bfloat16")
    model.fit(X, y, epochs=2, batch_size=32, verbose=0)
    path = tmp_path / "m.safetensors"
    model.save(path)
    loaded = fm.load(path)
    assert loaded.dtype_policy == "mixed_bfloat16" and loaded._net.mixed_bfloat16
    np.testing.assert_array_equal(loaded.params.view(U32), model.params.view(U32))
    np.testing.assert_array_equal(loaded.forward(X), model.forward(X))
    raw = path.read_bytes()
    assert b'"dtype_policy":"mixed_bfloat16"' in raw.replace(b" ", b"") and b'"dtype":"float32"' in raw.replace(
        b" ", b""
    )
    assert loaded._epochs_seen == 2
    # a float32 model's file has no policy entry: the same bytes as before this dtype existed
    plain = _net("float32")
    assert b"dtype_policy" not in plain.to_bytes()
    assert fm.Sequential.from_bytes(plain.to_bytes()).dtype_policy == "float32"
    # pickling and copy() keep it; copy(dtype=...) changes it
    import pickle

    assert pickle.loads(pickle.dumps(model)).dtype_policy == "mixed_bfloat16"
    assert model.copy().dtype_policy == "mixed_bfloat16"
    as32 = model.copy(dtype="float32")
    assert as32.dtype_policy == "float32" and not as32._net.mixed_bfloat16
    np.testing.assert_array_equal(as32.params, model.params)


def test_copy_into_the_mixed_policy_and_a_bad_dtype_named():
    """copy(dtype="mixed_bfloat16") of a float32 model (audit: it raised numpy's "data type
    'mixed_bfloat16' not understood"), and an unknown dtype names the argument."""
    X, y, _ = _data()
    model = _net("float32")
    model.fit(X, y, epochs=1, batch_size=32, verbose=0)
    mixed = model.copy(dtype="mixed_bfloat16")
    assert mixed.dtype_policy == "mixed_bfloat16" and mixed._net.mixed_bfloat16
    np.testing.assert_array_equal(mixed.params, model.params)
    mixed.fit(X, y, epochs=1, batch_size=32, verbose=0)
    with pytest.raises(TypeError, match="dtype must be 'float32', 'float64' or 'mixed_bfloat16', got 'float16'"):
        model.copy(dtype="float16")


def test_the_c_api_predicts_a_mixed_model_as_fm_load(tmp_path):
    """The C++ reader restores the policy (fastmlp/serialize.hpp): the C API's float32 workspace runs the
    same bf16-rounded products as fm.load, one row (which then skips the float32 row kernel) and a batch."""
    from test_capi import LIB_PATH, CModel
    from test_capi import lib as _lib

    X, y, _ = _data()
    model = _net("mixed_bfloat16")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fm.Bf16EmulationWarning)
        model.fit(X, y, epochs=2, batch_size=32, verbose=0)
    path = tmp_path / "m.safetensors"
    model.save(path)
    c = CModel(_lib.__wrapped__(), path)
    X32 = X.astype(np.float32)
    expected = fm.load(path).forward(X32)
    np.testing.assert_array_equal(c.predict(X32), expected)
    np.testing.assert_array_equal(c.predict(X32[:1]), expected[:1])
    plain = model.copy(dtype="float32").forward(X32)  # the same weights without the rounding
    assert np.abs(plain - expected).max() > 0 and LIB_PATH.exists()


def test_a_bad_policy_entry_is_refused(tmp_path):
    model = _net("mixed_bfloat16")
    data = model.to_bytes().replace(b'"mixed_bfloat16"', b'"mixed_float16x"')
    header_len = int.from_bytes(data[:8], "little")
    assert len(data) > header_len  # same length: the header stays valid JSON
    with pytest.raises(ValueError, match="dtype_policy"):
        fm.Sequential.from_bytes(data)


def _fit_both(make, X, y, **fit):
    out = []
    for dtype in ("float32", "mixed_bfloat16"):
        model = make(dtype)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", fm.Bf16EmulationWarning)
            hist = model.fit(X, y, verbose=0, **fit)
        out.append((model, hist))
    return out


CASES = {
    "sgd": (lambda: [fm.Dense(32, activation="relu"), fm.Dense(3, activation="softmax")], "sgd", None),
    "adam+batchnorm+dropout": (
        lambda: [
            fm.Dense(32, activation="relu"),
            fm.BatchNormalization(),
            fm.Dropout(0.1),
            fm.Dense(3, activation="softmax"),
        ],
        "adam",
        None,
    ),
    "rmsprop+layernorm+tanh": (
        lambda: [fm.Dense(32, activation="tanh"), fm.LayerNormalization(), fm.Dense(3, activation="softmax")],
        "rmsprop",
        None,
    ),
    "adagrad+activation": (
        lambda: [fm.Dense(32), fm.Activation("gelu"), fm.Dense(3, activation="softmax")],
        fm.Adagrad(learning_rate=0.05),
        None,
    ),
    "adamw+residual": (
        lambda: [
            fm.Dense(16, activation="relu"),
            fm.Residual([fm.Dense(16, activation="relu")]),
            fm.Dense(3, activation="softmax"),
        ],
        "adamw",
        None,
    ),
    "mse regression": (lambda: [fm.Dense(16, activation="relu"), fm.Dense(1)], "adam", "mse"),
    "huber regression": (lambda: [fm.Dense(16, activation="relu"), fm.Dense(1)], "adam", "huber"),
    "binary": (lambda: [fm.Dense(16, activation="relu"), fm.Dense(1, activation="sigmoid")], "adam", None),
}


@pytest.mark.parametrize("case", list(CASES))
def test_every_kind_trains_as_in_float32(case):
    layers, optimizer, loss = CASES[case]
    rng = np.random.default_rng(5)
    X = rng.standard_normal((300, 8)).astype(np.float32)
    score = X[:, 0] + 0.5 * X[:, 1] - X[:, 2]
    if loss in ("mse", "huber"):
        y = score.astype(np.float32)
    elif case == "binary":
        y = (score > 0).astype(np.int64)
    else:
        y = np.digitize(score, [-0.7, 0.7])

    def make(dtype):
        return fm.Sequential(layers(), loss=loss, optimizer=optimizer, dtype=dtype, seed=7)

    (m32, h32), (mbf, hbf) = _fit_both(make, X, y, epochs=15, batch_size=32)
    l32, lbf = h32.history["loss"], hbf.history["loss"]
    assert np.all(np.isfinite(lbf)) and lbf[-1] < 0.75 * lbf[0]
    assert abs(lbf[-1] - l32[-1]) <= 0.1 * l32[0]  # the same training, up to bf16 noise
    assert not np.array_equal(m32.params, mbf.params)  # the products did round
    assert mbf.params.dtype == np.float32


def test_an_embedding_model_trains_mixed():
    # integer codes -> Embedding (a table lookup, float32) -> Dense products with bf16 operands
    rng = np.random.default_rng(6)
    codes = rng.integers(0, 12, (400, 3)).astype(np.float32)
    y = (codes[:, 0] % 3).astype(np.int64)

    def make(dtype):
        layers = [
            fm.Embedding(12, 4, input_length=3),
            fm.Dense(16, activation="relu"),
            fm.Dense(3, activation="softmax"),
        ]
        return fm.Sequential(layers, dtype=dtype, seed=2)

    (m32, h32), (mbf, hbf) = _fit_both(make, codes, y, epochs=20, batch_size=32)
    assert mbf._net.mixed_bfloat16 and not np.array_equal(m32.params, mbf.params)
    assert hbf.history["loss"][-1] < 0.5 * hbf.history["loss"][0]
    assert mbf.accuracy(codes, y) > 0.9 and abs(mbf.accuracy(codes, y) - m32.accuracy(codes, y)) < 0.05


def test_schedule_callback_validation_and_sources():
    X, y, _ = _data(m=400, d=40)
    stop = fm.EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    model = _net("mixed_bfloat16")
    model.compile(optimizer=fm.SGD(learning_rate=0.1, momentum=0.9))
    schedule = fm.schedules.ExponentialDecay(gamma=0.9)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fm.Bf16EmulationWarning)
        hist = model.fit(
            X, y, epochs=30, batch_size=50, validation_split=0.2, callbacks=[stop], schedule=schedule, verbose=0
        )
    assert model._net.mixed_bfloat16 and "val_loss" in hist.history
    assert hist.history["loss"][-1] < hist.history["loss"][0]
    source = fm.data.from_arrays(X, y, chunk_rows=64)  # a source, read chunk by chunk
    np.testing.assert_allclose(model.evaluate(source)[0], model.evaluate(X, y)[0], rtol=1e-5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fm.Bf16EmulationWarning)
        hist = model.fit(source, epochs=2, batch_size=50, verbose=0)
    assert np.all(np.isfinite(hist.history["loss"]))


def test_digits_accuracy_close_to_float32():
    datasets = pytest.importorskip("sklearn.datasets")
    digits = datasets.load_digits()
    X = (digits.data / 16).astype(np.float32)
    y = digits.target
    rng = np.random.default_rng(0)
    order = rng.permutation(len(y))
    train, test = order[:1400], order[1400:]
    accs = {}
    for dtype in ("float32", "mixed_bfloat16"):
        model = fm.Sequential(
            [fm.Dense(64, activation="relu"), fm.Dense(10, activation="softmax")], dtype=dtype, seed=0
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", fm.Bf16EmulationWarning)
            model.fit(X[train], y[train], epochs=20, batch_size=32, verbose=0)
        accs[dtype] = model.accuracy(X[test], y[test])
    assert accs["mixed_bfloat16"] > 0.93
    assert abs(accs["mixed_bfloat16"] - accs["float32"]) <= 0.02, accs


@pytest.mark.mpi
def test_one_process_comm_gives_the_same_mixed_training():
    pytest.importorskip("mpi4py", reason="needs the [mpi] extra (pip install 'fastmlp[mpi]')")
    from mpi4py import MPI

    X, y, _ = _data(m=120)
    a, b, c = _net("mixed_bfloat16"), _net("mixed_bfloat16"), _net("float32")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fm.Bf16EmulationWarning)
        ha = a.fit(X, y, epochs=3, batch_size=16, validation_split=0.2, verbose=0)
        hb = b.fit(X, y, epochs=3, batch_size=16, validation_split=0.2, comm=MPI.COMM_SELF, verbose=0)
        c.fit(X, y, epochs=3, batch_size=16, validation_split=0.2, verbose=0)
    np.testing.assert_array_equal(a.params, b.params)
    assert ha.history == hb.history
    assert not np.array_equal(a.params, c.params)  # the data-parallel step used the mixed products
    np.testing.assert_array_equal(a.predict(X), b.predict(X, comm=MPI.COMM_SELF))


def test_onnx_export_is_the_float32_graph(tmp_path):
    # ONNX has no "round the operands" step in a MatMul: the export is the float32 model (documented)
    ort = pytest.importorskip("onnxruntime")
    X, _, _ = _data()
    model = _net("mixed_bfloat16")
    fm.onnx.export(model, tmp_path / "m.onnx")
    session = ort.InferenceSession(str(tmp_path / "m.onnx"))
    out = session.run(None, {session.get_inputs()[0].name: X})[0]
    np.testing.assert_allclose(out, model.copy(dtype="float32").forward(X), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.parametrize(
    "value, row", [(np.nan, 0), (np.inf, 150), (-np.inf, 299)], ids=["nan-0", "inf-150", "-inf-299"]
)
@pytest.mark.parametrize("shuffle", [False, True])
def test_a_non_finite_x_refused_in_the_first_epoch_changes_nothing(optimizer, value, row, shuffle):
    # Where the first Dense layer's conversion notes NaN and infinity (the AVX512_BF16 kernel; Network::
    # checks_in_training), a fit checks X in its first epoch's steps instead of in a pass of its own, so
    # it finds a bad row after steps that changed the weights, the running statistics and the optimizer's
    # state: it puts all of them back before the error. Elsewhere X is checked before the fit. Either way a
    # refused fit changes nothing: the model goes on as its twin that never saw the bad X.
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 40)).astype(np.float32)
    y = rng.integers(0, 5, 300)

    def model():
        m = fm.Sequential(
            [fm.Dense(64, activation="relu", input_dim=40), fm.BatchNormalization(), fm.Dense(5, activation="softmax")],
            dtype="mixed_bfloat16",
            seed=1,
        )
        m.compile(optimizer=fm.SGD(learning_rate=0.05) if optimizer == "sgd" else fm.Adam())
        return m

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fm.Bf16EmulationWarning)
        a, b = model(), model()
        for m in (a, b):
            m.fit(X, y, epochs=1, batch_size=32, verbose=0)  # the optimizer's state exists
        bad = X.copy()
        bad[row, 7] = value
        with pytest.raises(ValueError, match="^X contains NaN or infinity$"):
            a.fit(bad, y, epochs=2, batch_size=32, shuffle=shuffle, verbose=0)
        for wa, wb in zip(a.get_weights(), b.get_weights()):
            np.testing.assert_array_equal(wa, wb)
        for m in (a, b):
            m.fit(X, y, epochs=1, batch_size=32, verbose=0)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)
