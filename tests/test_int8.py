"""model.quantize("int8"): the kernel's arithmetic against a NumPy reference (int32 sums bit for bit,
float outputs to tolerance), accuracy kept on digits and on the bench net's shape, the API's rules,
save / load, and ONNX."""

import json
import os
import pickle
import struct
import subprocess
import sys

import numpy as np
import pytest

import fastmlp as fm
from fastmlp import _core

sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir, "bench"))
import bench_int8  # noqa: E402

# --- the NumPy reference of fastmlp/gemm_int8.hpp -------------------------------------------------


def ref_quantize_weights(W):
    W = np.asarray(W, dtype=np.float32)
    amax = np.abs(W).max(axis=0)
    s = np.where(amax > 0, amax / np.float32(63), np.float32(1)).astype(np.float32)
    Wq = np.clip(np.rint(W / s), -63, 63).astype(np.int8)
    return Wq, s


def ref_quantize_rows(X):
    """(Q = q, u8, padded to 4 columns with 0; s; zp): u8 q with a zero point per row."""
    X = np.asarray(X, dtype=np.float32)
    m, d = X.shape
    Q = np.zeros((m, (d + 3) // 4 * 4), dtype=np.uint8)
    s = np.ones(m, dtype=np.float32)
    zp = np.zeros(m, dtype=np.int32)
    for r in range(m):
        lo = min(np.float32(0), X[r].min())
        hi = max(np.float32(0), X[r].max())
        scale = np.float32(np.float32(hi - lo) / np.float32(255))
        if not scale >= np.finfo(np.float32).tiny:
            continue
        inv = np.float32(1) / scale
        z = int(np.clip(np.rint(np.float32(-lo * inv)), 0, 255))
        Q[r, :d] = np.clip(np.rint((X[r] * inv).astype(np.float32)).astype(np.int64) + z, 0, 255)
        s[r], zp[r] = scale, z
    return Q, s, zp


def ref_dense(X, Wq, sw, b):
    """z = float(q Wq - zp colsum(Wq)) (s_r s_j) + b, with the int32 sums exact (int64 here)."""
    Q, sx, zp = ref_quantize_rows(X)
    W64 = Wq.astype(np.int64)
    C = Q[:, : Wq.shape[0]].astype(np.int64) @ W64 - zp[:, None].astype(np.int64) * W64.sum(axis=0)[None, :]
    return C.astype(np.float32) * (sx[:, None] * sw[None, :]) + b


def ref_forward(model, X):
    """A plain Dense stack's forward pass with the int8 arithmetic of each layer (reference)."""
    a = np.asarray(X, dtype=np.float32)
    for layer in model.layers:
        z = ref_dense(a, np.asarray(layer.weights).astype(np.int8), np.asarray(layer.weight_scale), layer.bias)
        a = {"relu": lambda v: np.maximum(v, 0), "linear": lambda v: v}.get(layer.activation, None)
        if a is None:
            assert layer.activation == "softmax"
            e = np.exp(z - z.max(axis=1, keepdims=True))
            a = e / e.sum(axis=1, keepdims=True)
        else:
            a = a(z)
    return a


# --- the kernel ------------------------------------------------------------------------------------


def test_build_info_names_the_int8_kernel():
    assert fm.build_info()["int8"] in ("avx512vnni", "avxvnni", "avx2", "portable")
    assert fm.build_info()["int8"] == _core.int8_isa()


@pytest.mark.parametrize("shape", [(1, 1), (3, 17), (784, 256), (5, 40)])
def test_weights_quantized_as_the_reference(shape):
    rng = np.random.default_rng(shape[0])
    W = rng.normal(size=shape).astype(np.float32)
    W[:, 0] = 0.0  # a zero column: scale 1, all zeros
    Wq, s = _core.quantize_weights_int8(W)
    Wq_ref, s_ref = ref_quantize_weights(W)
    np.testing.assert_array_equal(Wq, Wq_ref)
    np.testing.assert_array_equal(s, s_ref)
    assert np.abs(Wq).max() <= 63 and s[0] == 1.0
    np.testing.assert_allclose(Wq * s, W, atol=float(s.max()) / 2 + 1e-7)


@pytest.mark.parametrize("d", [1, 3, 8, 13, 64, 785])
def test_rows_quantized_as_the_reference(d):
    rng = np.random.default_rng(d)
    X = rng.normal(size=(7, d)).astype(np.float32)
    X[1] = 0.0  # a row of zeros
    X[2] = np.abs(X[2])  # a ReLU output: zero point 0
    X[3] = -np.abs(X[3]) - 1  # all negative: zero point 127
    X[4] *= 1e30
    X[5] *= 1e-30
    Q, s, zp = _core.int8_quantize_rows(X)
    Q_ref, s_ref, zp_ref = ref_quantize_rows(X)
    np.testing.assert_array_equal(Q, Q_ref)
    np.testing.assert_array_equal(s, s_ref)
    np.testing.assert_array_equal(zp, zp_ref)
    assert zp[2] == 0 and (d == 1 or zp[3] == 255)
    # dequantized, each value within half a step
    err = np.abs((Q[:, :d].astype(np.float32) - zp[:, None]) * s[:, None] - X)
    assert (err <= s[:, None] * 0.5001).all()


# m: the AVX512-VNNI build's 8-row tiles and the rows after them; k: 1 to 7 panels of 16 columns, which
# that build takes 3 at a time, the last four as 2 + 2 (k = 60: 4 panels; k = 100: 3 + 2 + 2)
@pytest.mark.parametrize("m", [1, 2, 3, 4, 5, 9, 70])
@pytest.mark.parametrize("d,k", [(1, 1), (5, 15), (13, 16), (64, 17), (784, 33), (37, 60), (20, 100)])
def test_int32_sums_exact(m, d, k):
    rng = np.random.default_rng(m * 1000 + d + k)
    Q = np.zeros((m, (d + 3) // 4 * 4), dtype=np.uint8)
    Q[:, :d] = rng.integers(0, 256, size=(m, d))
    Wq = rng.integers(-63, 64, size=(d, k)).astype(np.int8)
    C = _core.int8_matmul_s32(Q, Wq)
    assert C.dtype == np.int32
    np.testing.assert_array_equal(C, Q[:, :d].astype(np.int64) @ Wq.astype(np.int64))


def test_int32_sums_exact_at_the_extremes():
    # every pair at +-2 * 255 * 63 (vpmaddubsw's int16 pairs must not saturate), summed over 65536
    # inputs: the largest sums int32 must hold
    d, k = 1 << 16, 18
    Q = np.full((5, d), 255, dtype=np.uint8)
    Wq = np.where(np.arange(k) % 2 == 0, 63, -63).astype(np.int8)[None, :].repeat(d, axis=0)
    C = _core.int8_matmul_s32(Q, Wq)
    np.testing.assert_array_equal(C, Q.astype(np.int64) @ Wq.astype(np.int64))
    assert C[0, 0] == d * 255 * 63 and C[0, 1] == -d * 255 * 63
    with pytest.raises(ValueError, match="63"):
        _core.int8_matmul_s32(np.full((1, 4), 1, dtype=np.uint8), np.full((2, 1), 64, dtype=np.int8))


@pytest.mark.parametrize("m", [1, 4, 6, 130])
def test_dense_matches_the_reference(m):
    rng = np.random.default_rng(m)
    d, k = 50, 21
    X = rng.normal(size=(m, d)).astype(np.float32)
    Wq, s = _core.quantize_weights_int8(rng.normal(size=(d, k)).astype(np.float32))
    b = rng.normal(size=k).astype(np.float32)
    Z = _core.int8_dense(X, Wq, s, b)
    np.testing.assert_allclose(Z, ref_dense(X, Wq, s, b), rtol=1e-5, atol=1e-5)
    # each row alone gives the same bits as in the batch
    np.testing.assert_array_equal(_core.int8_dense(X[-1:].copy(), Wq, s, b)[0], Z[-1])


# --- models ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def digits_model():
    datasets = pytest.importorskip("sklearn.datasets")
    X, y = datasets.load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    rng = np.random.default_rng(0)
    order = rng.permutation(len(X))
    train, test = order[:1400], order[1400:]
    model = fm.Sequential([fm.Dense(64, 64, "relu"), fm.Dense(64, 32, "relu"), fm.Dense(32, 10, "softmax")], seed=0)
    model.fit(X[train], y[train], epochs=30, batch_size=32)
    return model, X[test], y[test]


def test_digits_agreement_and_accuracy(digits_model):
    model, X, y = digits_model
    q = model.copy()
    q.quantize("int8")
    float_pred, int8_pred = model.predict(X), q.predict(X)
    agreement = float(np.mean(float_pred == int8_pred))
    acc_float, acc_int8 = float(np.mean(float_pred == y)), float(np.mean(int8_pred == y))
    assert agreement >= 0.99, agreement
    assert abs(acc_float - acc_int8) <= 0.005, (acc_float, acc_int8)
    assert acc_float > 0.9
    # the model's forward pass is the reference's int8 arithmetic
    np.testing.assert_allclose(q.forward(X), ref_forward(q, X), rtol=1e-4, atol=1e-6)


def test_bench_net_agreement_on_generated_data():
    pytest.importorskip("sklearn.datasets")
    # bench/bench_int8.py's data set and net (its --accuracy figures)
    X, y = bench_int8.generated_set()
    model = bench_int8.bench_net(seed=1)
    model.fit(X[:4000], y[:4000], epochs=5, batch_size=64)
    q = model.copy()
    q.quantize("int8")
    Xt, yt = X[4000:], y[4000:]
    agreement = float(np.mean(model.predict(Xt) == q.predict(Xt)))
    assert agreement >= 0.99, agreement
    assert abs(float(np.mean(model.predict(Xt) == yt)) - float(np.mean(q.predict(Xt) == yt))) <= 0.005


def small_model(seed=0, **kw):
    model = fm.Sequential([fm.Dense(6, 9, "relu"), fm.Dense(9, 3, "softmax")], seed=seed, **kw)
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(40, 6)).astype(np.float32)
    y = rng.integers(0, 3, size=40)
    model.fit(X, y, epochs=2)
    return model, X, y


def test_quantize_in_place_and_predicts_everywhere():
    model, X, y = small_model()
    float_out = model.forward(X)
    assert model.quantize("int8") is None
    assert [layer.quantization_mode for layer in model.layers] == ["int8", "int8"]
    W = model.layers[0].weights
    assert not W.flags.writeable and np.array_equal(W, np.rint(W)) and np.abs(W).max() == 63
    out = model.forward(X)
    np.testing.assert_allclose(out, float_out, atol=0.05)
    np.testing.assert_array_equal(model.forward(X[3:4]), out[3:4])  # one sample: the same bits
    np.testing.assert_array_equal(model(X), out)
    assert model.predict(X).shape == (40,)
    np.testing.assert_allclose(model.predict_proba(X), out, rtol=1e-6)
    loss, acc = model.evaluate(X, y)
    assert np.isfinite(loss) and 0 <= acc <= 1
    assert "quantize='int8'" in repr(model.layers[0])


def test_quantized_model_refuses_training_cuda_and_requantizing():
    model, X, y = small_model()
    params = model.params.copy()
    with pytest.raises(ValueError, match="int4"):
        model.quantize("int4")
    with pytest.raises(TypeError):
        model.quantize(8)
    np.testing.assert_array_equal(model.params, params)  # a refused call changes nothing
    model.quantize("int8")
    with pytest.raises(ValueError, match="already quantized"):
        model.quantize("int8")
    for call in (lambda: model.fit(X, y, epochs=1), lambda: model.partial_fit(X, y), lambda: model.gradients(X, y)):
        with pytest.raises(RuntimeError, match="quantized"):
            call()
    with pytest.raises(NotImplementedError, match="cuda"):
        model.to("cuda")
    with pytest.raises(ValueError, match="read-only"):
        model.set_weights(model.get_weights())
    with pytest.raises(ValueError, match="read-only"):
        model.layers[0].weights = np.zeros((6, 9))
    with pytest.raises(ValueError, match="float32"):
        model.copy(dtype="float64")
    assert model.device == "cpu"
    model.forward(X)  # still predicts


def test_quantize_needs_a_built_float32_model():
    with pytest.raises(RuntimeError):
        fm.Sequential([fm.Dense(4, "relu"), fm.Dense(2, "softmax")]).quantize("int8")
    model, _, _ = small_model(dtype="float64")
    with pytest.raises(ValueError, match="float32"):
        model.quantize("int8")


def test_other_layers_run_in_float_around_the_int8_dense():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(64, 8)).astype(np.float32)
    y = rng.integers(0, 4, size=64)
    model = fm.Sequential(
        [
            fm.Dense(8, 16, "relu"),
            fm.BatchNormalization(),
            fm.Residual([fm.Dense(16, 16, "tanh"), fm.LayerNormalization(), fm.Dropout(0.1)]),
            fm.Activation("relu"),
            fm.Dense(16, 4, "softmax"),
        ],
        seed=3,
    )
    model.fit(X, y, epochs=3)
    before = model.forward(X)
    q = model.copy()
    q.quantize("int8")
    assert [layer.quantization_mode for layer in q.dense_layers] == ["int8"] * 3
    np.testing.assert_allclose(q.forward(X), before, atol=0.05)
    assert np.mean(q.predict(X) == model.predict(X)) >= 0.95


def test_save_load_round_trip(tmp_path):
    model, X, _ = small_model()
    model.quantize("int8")
    out = model.forward(X)
    path = tmp_path / "q.safetensors"
    model.save(path)
    raw = path.read_bytes()
    header = json.loads(raw[8 : 8 + struct.unpack("<Q", raw[:8])[0]])
    assert header["layers.0.weight"]["dtype"] == "I8"
    assert header["layers.0.weight_scale"]["dtype"] == "F32"
    assert header["layers.1.bias"]["dtype"] == "F32"
    loaded = fm.Sequential.load(path)
    assert [layer.quantization_mode for layer in loaded.layers] == ["int8", "int8"]
    np.testing.assert_array_equal(loaded.forward(X), out)
    np.testing.assert_array_equal(loaded.layers[0].weight_scale, model.layers[0].weight_scale)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(model)).forward(X), out)
    np.testing.assert_array_equal(model.copy().forward(X), out)
    # the int8 file is about a quarter of the float one
    float_model, _, _ = small_model()
    float_model.save(tmp_path / "f.safetensors")
    assert len(raw) < (tmp_path / "f.safetensors").stat().st_size


def test_onnx_export_runs_in_onnxruntime(tmp_path):
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    import fastmlp.onnx as fonnx

    model, X, _ = small_model()
    model.quantize("int8")
    for opset in (17, 18):
        path = tmp_path / f"q{opset}.onnx"
        fonnx.export(model, path, opset=opset)
        sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        got = sess.run(None, {"input": X})[0]
        np.testing.assert_allclose(got, model.forward(X), rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(got.argmax(axis=1), model.forward(X).argmax(axis=1))


def test_cpp_loader_predicts_the_same(cpp_tests_build, tmp_path):
    """The C++ API (load_network<float>, tests/cpp/serialize_tool.cpp) loads a quantized file and
    predicts what Python does; save_network writes it back with its I8 tensors."""
    import subprocess

    model, X, _ = small_model()
    model.quantize("int8")
    path = tmp_path / "q.safetensors"
    model.save(path)
    exe = str(cpp_tests_build / "serialize_tool")
    np.ascontiguousarray(X, dtype="<f8").tofile(tmp_path / "X.bin")
    out = subprocess.run(
        [exe, "predict", "float", str(path), str(tmp_path / "X.bin"), str(X.shape[0]), str(X.shape[1])],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    got = np.array([[float(v) for v in line.split()] for line in out.strip().splitlines()])
    np.testing.assert_allclose(got, model.forward(X), rtol=1e-6, atol=1e-7)
    subprocess.run([exe, "resave", "float", str(path), str(tmp_path / "r.safetensors")], check=True)
    again = fm.Sequential.load(tmp_path / "r.safetensors")
    np.testing.assert_array_equal(again.layers[0].weights, model.layers[0].weights)
    np.testing.assert_array_equal(again.forward(X), model.forward(X))


def test_int8_builds_share_no_symbol_with_the_portable_core():
    """As tests/test_cpp.py checks for the float GEMM: the int8 kernels compiled with AVX2 / VNNI
    flags define no symbol outside their own namespace (fastmlp::int8_<build>)."""
    import re
    import shutil
    import subprocess
    from pathlib import Path

    if shutil.which("nm") is None:
        pytest.skip("needs nm (binutils)")
    lib = Path(fm.cmake_dir()).parents[1] / "libfastmlp.a"
    out = subprocess.run(["nm", "-C", "--defined-only", str(lib)], capture_output=True, text=True, check=True).stdout
    members = [m for m in re.split(r"\n(?=\S+\.o:\n)", "\n" + out) if re.search(r"fastmlp::int8_(v3|avx\w*)::", m)]
    assert members
    for member in members:
        ns = re.search(r"fastmlp::(int8_\w+)::", member).group(1)
        for line in member.splitlines()[1:]:
            parts = line.split(maxsplit=2)
            if len(parts) == 3 and (parts[1].isupper() or parts[1] == "u"):
                assert ns in parts[2] or parts[2] == "DW.ref.__gxx_personality_v0", line


def test_a_bad_fastmlp_int8_fails_the_import_naming_it():
    """Review: docs/building.md says it does (it failed only at build_info or quantize)."""
    r = subprocess.run(
        [sys.executable, "-c", "import fastmlp"],
        env={**os.environ, "FASTMLP_INT8": "vnni"},
        capture_output=True,
        text=True,
    )
    assert r.returncode != 0
    assert "FASTMLP_INT8='vnni': expected 'avx2' or 'portable'" in r.stderr


@pytest.mark.parametrize("env", [{"FASTMLP_INT8": "portable"}, {"FASTMLP_ARCH": "v2"}])
def test_portable_kernel_gives_the_same_bits(env, tmp_path):
    """The portable build (no AVX2; picked for x86-64-v2 or with FASTMLP_INT8=portable) gives the
    same int32 sums and the same outputs as the kernel in use here."""
    import os
    import subprocess
    import sys

    rng = np.random.default_rng(5)
    Q = rng.integers(0, 256, size=(7, 40)).astype(np.uint8)
    Wq = rng.integers(-63, 64, size=(37, 19)).astype(np.int8)
    Q[:, 37:] = 0
    X = rng.normal(size=(9, 37)).astype(np.float32)
    s = rng.random(19).astype(np.float32)
    b = rng.normal(size=19).astype(np.float32)
    np.savez(tmp_path / "in.npz", Q=Q, Wq=Wq, X=X, s=s, b=b)
    code = (
        "import numpy as np, fastmlp as fm; from fastmlp import _core; "
        f"d = np.load({str(tmp_path / 'in.npz')!r}); "
        "np.savez(" + repr(str(tmp_path / "out.npz")) + ", isa=fm.build_info()['int8'], "
        "C=_core.int8_matmul_s32(d['Q'], d['Wq']), Z=_core.int8_dense(d['X'], d['Wq'], d['s'], d['b']))"
    )
    subprocess.run([sys.executable, "-c", code], env={**os.environ, **env}, check=True)
    out = np.load(tmp_path / "out.npz")
    assert str(out["isa"]) == "portable"
    np.testing.assert_array_equal(out["C"], _core.int8_matmul_s32(Q, Wq))
    np.testing.assert_allclose(out["Z"], _core.int8_dense(X, Wq, s, b), rtol=1e-6, atol=1e-6)


def test_fused_relu_and_tile_shapes_match_the_reference():
    """ReLU runs in the kernel's epilogue (no tracer) and after it (trace): the same numbers; batch
    sizes that take every tile shape (4-row tiles, then 3, 2 or 1 rows against 1, 2 or 4 panels at
    once) give each row the bits it has alone."""
    rng = np.random.default_rng(11)
    d, h, k = 37, 70, 5  # 70 outputs: 4 whole panels and one of 6 columns
    model = fm.Sequential([fm.Dense(d, h, "relu"), fm.Dense(h, k, "linear")], seed=2)
    X = rng.normal(size=(11, d)).astype(np.float32)
    model.fit(X, rng.normal(size=(11, k)).astype(np.float32), epochs=1)
    model.quantize("int8")
    out = model.forward(X)
    W0, s0 = np.asarray(model.layers[0].weights).astype(np.int8), np.asarray(model.layers[0].weight_scale)
    a1 = np.maximum(ref_dense(X, W0, s0, model.layers[0].bias), 0)
    np.testing.assert_allclose(out, ref_forward(model, X), rtol=1e-5, atol=1e-5)
    (z0, a0), _ = model.trace(X)
    np.testing.assert_array_equal(a0, np.maximum(z0, 0))
    np.testing.assert_allclose(a0, a1, rtol=1e-5, atol=1e-5)
    for m in (1, 2, 3, 4, 5, 6, 7, 11):
        np.testing.assert_array_equal(model.forward(X[:m]), out[:m])
        np.testing.assert_array_equal(model.forward(X[-1:]), out[-1:])


def test_chains_of_int8_layers_give_the_bits_of_layer_by_layer():
    """Consecutive int8 Dense layers run as one chain (blocks of 64 rows through every layer, the
    hidden activations in cache): a chain ends after a layer whose activation is neither ReLU nor
    linear (tanh here) and at a float layer. Its outputs are the bits of the layer-by-layer pass that
    trace runs (no chain: it keeps every z and a), for batches of 1 to 3 blocks and every tile shape."""
    rng = np.random.default_rng(5)
    model = fm.Sequential(
        [
            fm.Dense(37, 40, "relu"),
            fm.Dense(40, 19, "linear"),
            fm.Dense(19, 24, "tanh"),  # ends the first chain (0-2)
            fm.Dense(24, 33, "relu"),
            fm.Dense(33, 7, "linear"),  # the second chain (3-4), the output layer
        ],
        seed=4,
    )
    X = rng.normal(size=(150, 37)).astype(np.float32)
    model.fit(X, rng.normal(size=(150, 7)).astype(np.float32), epochs=1)
    model.quantize("int8")
    out = model.forward(X)
    layers = model.trace(X)
    assert len(layers) == 5
    np.testing.assert_array_equal(out, layers[-1][1])
    np.testing.assert_array_equal(layers[-1][0], layers[-1][1])  # a linear output layer: a = z
    np.testing.assert_allclose(out, ref_forward_any(model, X), rtol=1e-4, atol=1e-4)
    for m in (1, 3, 4, 63, 64, 65, 129, 150):
        np.testing.assert_array_equal(model.forward(X[:m]), out[:m])
        np.testing.assert_array_equal(model.forward(X[-m:]), out[-m:])
    X[70, 3] = np.nan  # in the second block: refused, as by the first layer alone
    with pytest.raises(ValueError, match="NaN or infinity"):
        model.forward(X)


def ref_forward_any(model, X):
    """ref_forward for relu, linear and tanh layers (tanh: NumPy's, to tolerance)."""
    a = np.asarray(X, dtype=np.float32)
    g = {"relu": lambda v: np.maximum(v, 0), "linear": lambda v: v, "tanh": np.tanh}
    for layer in model.layers:
        a = g[layer.activation](
            ref_dense(a, np.asarray(layer.weights).astype(np.int8), np.asarray(layer.weight_scale), layer.bias)
        )
    return a


def test_params_of_a_quantized_model_are_read_only_and_summary_says_int8():
    model, X, _ = small_model()
    assert model.params.flags.writeable
    model.quantize("int8")
    out = model.forward(X)
    # the int8 layers packed Wq at that prediction: a write would not be seen, so it is refused
    with pytest.raises(ValueError, match="read-only"):
        model.params[:5] = 0
    np.testing.assert_array_equal(model.forward(X), out)
    assert "(Dense, int8)" in model.summary(print_fn=None)
    assert "Dense (int8)" in model._repr_html_()
    # copy and load write their own buffer (not through model.params)
    np.testing.assert_array_equal(model.copy().forward(X), out)
    float_model, _, _ = small_model()
    assert "int8" not in float_model.summary(print_fn=None) and float_model.params.flags.writeable


@pytest.mark.gpu
@pytest.mark.skipif(not fm.cuda_available(), reason="no CUDA device")
def test_cpp_cuda_engine_refuses_a_quantized_network():
    """The C++ engine path (cuda::make_engine, which Python's model.to('cuda') refuses before it)."""
    model, _, _ = small_model()
    model.quantize("int8")
    with pytest.raises(ValueError, match="CPU only"):
        _core.cuda_engine(model._net)


# --- NaN and infinity in the inputs: found by the quantization's min/max pass ------------------------

NONFINITE = [np.nan, np.inf, -np.inf]


@pytest.mark.parametrize("d", [1, 7, 8, 13, 16, 37, 785])
def test_nonfinite_rows_reported_by_the_quantization(d):
    """A row holding NaN or +-inf (at its first, a middle or its last element) gets s = NaN, zp = 0,
    q = 0; the other rows are quantized as the reference; int8_dense gives that row NaN outputs."""
    rng = np.random.default_rng(d)
    X = rng.normal(size=(3 * len(NONFINITE) + 2, d)).astype(np.float32)
    bad = []
    for n, value in enumerate(NONFINITE):
        for t, col in enumerate([0, d // 2, d - 1]):
            r = 1 + 3 * n + t
            X[r, col] = value
            bad.append(r)
    bad = sorted(set(bad))
    good = [r for r in range(X.shape[0]) if r not in bad]
    Q, s, zp = _core.int8_quantize_rows(X)
    assert np.isnan(s[bad]).all() and (zp[bad] == 0).all() and (Q[bad] == 0).all()
    Q_ref, s_ref, zp_ref = ref_quantize_rows(X[good])
    np.testing.assert_array_equal(Q[good], Q_ref)
    np.testing.assert_array_equal(s[good], s_ref)
    np.testing.assert_array_equal(zp[good], zp_ref)
    Wq, sw = _core.quantize_weights_int8(rng.normal(size=(d, 5)).astype(np.float32))
    Z = _core.int8_dense(X, Wq, sw, np.zeros(5, np.float32))
    assert np.isnan(Z[bad]).all()
    np.testing.assert_array_equal(Z[good], _core.int8_dense(X[good].copy(), Wq, sw, np.zeros(5, np.float32)))


def test_portable_quantization_reports_nonfinite_rows_alike(tmp_path):
    import os
    import subprocess
    import sys

    rng = np.random.default_rng(3)
    X = rng.normal(size=(8, 37)).astype(np.float32)
    X[1, 0], X[3, 18], X[5, 36], X[6, 35] = np.nan, np.inf, -np.inf, np.nan
    np.save(tmp_path / "X.npy", X)
    code = (
        "import numpy as np; from fastmlp import _core; "
        f"Q, s, zp = _core.int8_quantize_rows(np.load({str(tmp_path / 'X.npy')!r})); "
        f"np.savez({str(tmp_path / 'out.npz')!r}, Q=Q, s=s, zp=zp)"
    )
    subprocess.run([sys.executable, "-c", code], env={**os.environ, "FASTMLP_INT8": "portable"}, check=True)
    out = np.load(tmp_path / "out.npz")
    Q, s, zp = _core.int8_quantize_rows(X)
    np.testing.assert_array_equal(out["Q"], Q)
    np.testing.assert_array_equal(out["s"], s)  # NaN where NaN
    np.testing.assert_array_equal(out["zp"], zp)
    assert np.isnan(s[[1, 3, 5, 6]]).all() and not np.isnan(s[[0, 2, 4, 7]]).any()


@pytest.fixture(scope="module")
def quantized_and_float():
    model, _, _ = small_model()
    float_model, _, _ = small_model()
    model.quantize("int8")
    return model, float_model


@pytest.mark.parametrize("rows", [1, 10_000])
@pytest.mark.parametrize("where", ["first", "middle", "last"])
@pytest.mark.parametrize("value", NONFINITE, ids=["nan", "inf", "-inf"])
def test_quantized_model_refuses_nonfinite_inputs(quantized_and_float, rows, where, value):
    """The int8 first layer checks X itself (the network skips its pass): the same ValueError as a
    float32 model's, before any output; the model predicts as before afterwards."""
    model, float_model = quantized_and_float
    X = np.random.default_rng(rows).normal(size=(rows, 6)).astype(np.float32)
    before = model.forward(X)
    flat = {"first": 0, "middle": X.size // 2 + 1, "last": X.size - 1}[where]
    bad = X.copy()
    bad.reshape(-1)[flat] = value
    for call in (model.predict, model.forward, model.predict_proba, model, float_model.predict, float_model.forward):
        with pytest.raises(ValueError, match=r"^X contains NaN or infinity$"):
            call(bad)
    np.testing.assert_array_equal(model.forward(X), before)
    np.testing.assert_array_equal(model.forward(X[:1]), before[:1])


def test_cpp_network_refuses_nonfinite_inputs(cpp_tests_build, tmp_path):
    """Network<float>::forward of a loaded quantized model (serialize_tool predict): the same error."""
    import subprocess

    model, X, _ = small_model()
    model.quantize("int8")
    model.save(tmp_path / "q.safetensors")
    exe = str(cpp_tests_build / "serialize_tool")
    for value in NONFINITE:
        bad = X.astype("<f8")
        bad[7, 5] = value
        bad.tofile(tmp_path / "X.bin")
        args = [exe, "predict", "float", str(tmp_path / "q.safetensors"), str(tmp_path / "X.bin")]
        run = subprocess.run([*args, str(X.shape[0]), str(X.shape[1])], capture_output=True, text=True)
        assert run.returncode == 2 and run.stdout == "", (run.returncode, run.stdout)
        assert run.stderr.strip() == "invalid_argument: X contains NaN or infinity"
