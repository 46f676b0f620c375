"""ONNX export: the exported graph, run in onnxruntime, reproduces model.forward."""

import numpy as np
import pytest

import fastmlp as fm

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
import fastmlp.onnx as fonnx  # noqa: E402
import reference as ref  # noqa: E402

ALL_ACTS = list(ref.ACTIVATIONS)  # every activation the NumPy reference knows
ACTS = [g for g in ALL_ACTS if g in fm.ACTIVATIONS]


def make(acts, out="linear", dtype="float32", dropout=False, seed=0, alpha=None):
    sizes = [5] + [7] * len(acts) + [3]
    layers = []
    for i, (a, b, g) in enumerate(zip(sizes[:-1], sizes[1:], list(acts) + [out])):
        kw = {"alpha": alpha} if alpha is not None and g in ("leaky_relu", "elu") else {}
        layers.append(fm.Dense(a, b, g, **kw))
        if dropout and i < len(acts) and hasattr(fm, "Dropout"):
            layers.append(fm.Dropout(0.4))
    model = fm.Sequential(layers, dtype=dtype, seed=seed)
    rng = np.random.default_rng(seed)
    model.params[...] = rng.normal(scale=0.8, size=model.params.shape)
    return model


def run_onnx(path, X):
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return sess.run(None, {"input": X})[0]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("act", ACTS)
def test_each_activation_matches_forward(tmp_path, act, dtype):
    # the activation in a hidden layer and in the output layer
    model = make([act], out=act if act != "step" else "sigmoid", dtype=dtype, alpha=0.3)
    path = tmp_path / "m.onnx"
    proto = fonnx.export(model, path)
    assert isinstance(proto, onnx.ModelProto)
    X = np.random.default_rng(1).normal(scale=2.0, size=(23, 5)).astype(dtype)
    got = run_onnx(path, X)  # float64 too: the exporter avoids ops without double kernels
    assert got.dtype == np.dtype(dtype)
    expected = model.forward(X)
    if act == "exp":  # exp's relative error is z's absolute error, and |z_L| is large here: compare z_L
        tiny = np.finfo(dtype).tiny  # (an output that underflows on one side and not the other)
        got, expected = np.log(np.maximum(got, tiny)), np.log(np.maximum(expected, tiny))
    if dtype == "float32":
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    elif act == "gelu":  # onnxruntime has no double Erf: the exporter takes erf in float32
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)
    else:
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_deep_network_dynamic_batch_and_dropout(tmp_path, dtype):
    acts = [g for g in ["relu", "tanh", "sigmoid", "leaky_relu", "elu", "softplus"] if g in fm.ACTIVATIONS]
    model = make(acts, out="softmax", dtype=dtype, dropout=True)
    path = tmp_path / "deep.onnx"
    proto = fonnx.export(model, path, opset=17)
    assert not any(n.op_type == "Dropout" for n in proto.graph.node)
    assert [n.op_type for n in proto.graph.node].count("Gemm") == len(acts) + 1
    # dynamic batch dimension
    dim0 = proto.graph.input[0].type.tensor_type.shape.dim[0]
    assert dim0.dim_param and not dim0.HasField("dim_value")
    for m in (1, 2, 64):
        X = np.random.default_rng(m).normal(size=(m, 5)).astype(dtype)
        got = run_onnx(path, X)
        tol = 1e-5 if dtype == "float32" else 1e-12
        np.testing.assert_allclose(got, model.forward(X), rtol=tol, atol=tol)
        np.testing.assert_allclose(got.sum(axis=1), 1.0, rtol=1e-5)


def test_trained_classifier_predictions_agree(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 5)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 1).astype(int)
    model = fm.Sequential([fm.Dense(5, 16, "relu"), fm.Dense(16, 3, "softmax")], seed=1)
    model.fit(X, y, epochs=30, batch_size=32, learning_rate=0.1)
    fonnx.export(model, tmp_path / "clf.onnx")
    probs = run_onnx(tmp_path / "clf.onnx", X)
    np.testing.assert_allclose(probs, model.predict_proba(X), rtol=1e-5, atol=1e-5)
    assert (probs.argmax(axis=1) == model.predict(X)).mean() > 0.99


def test_extreme_inputs(tmp_path):
    acts = [g for g in ["sigmoid", "softplus", "elu", "tanh"] if g in fm.ACTIVATIONS]
    for dtype in ("float32", "float64"):
        model = make(acts, out="softmax", dtype=dtype, seed=3)
        fonnx.export(model, tmp_path / "x.onnx")
        X = np.random.default_rng(0).normal(scale=200.0, size=(50, 5)).astype(dtype)
        got = run_onnx(tmp_path / "x.onnx", X)
        assert np.isfinite(got).all()
        tol = 1e-5 if dtype == "float32" else 1e-12
        np.testing.assert_allclose(got, model.forward(X), rtol=tol, atol=tol)


@pytest.mark.parametrize("opset", [fonnx.MIN_OPSET, 17])
def test_opsets(tmp_path, opset):
    model = make(["relu"], out="softmax")
    proto = fonnx.export(model, tmp_path / "o.onnx", opset=opset)
    assert proto.opset_import[0].version == opset
    X = np.random.default_rng(0).normal(size=(4, 5)).astype(np.float32)
    np.testing.assert_allclose(run_onnx(tmp_path / "o.onnx", X), model.forward(X), rtol=1e-5, atol=1e-6)


def test_metadata_and_names(tmp_path):
    model = make(["tanh"], out="sigmoid")
    proto = fonnx.to_onnx(model)
    props = {p.key: p.value for p in proto.metadata_props}
    assert props["fastmlp_version"] == fm.__version__ and props["loss"] == "binary_crossentropy"
    assert proto.producer_name == "fastmlp"
    assert [i.name for i in proto.graph.input] == ["input"] and [o.name for o in proto.graph.output] == ["output"]
    custom = fonnx.to_onnx(model, input_name="x", output_name="probs")
    assert custom.graph.input[0].name == "x" and custom.graph.output[0].name == "probs"
    onnx.checker.check_model(proto)
    fonnx.export(model, tmp_path / "a.onnx")
    loaded = onnx.load(str(tmp_path / "a.onnx"))
    assert loaded.graph.node[0].op_type == "Gemm"
    assert loaded.SerializeToString() == proto.SerializeToString()


@pytest.mark.parametrize("opset", [12, 10**6, "17", True])
def test_bad_opset(tmp_path, opset):
    with pytest.raises((ValueError, TypeError)):
        fonnx.export(make([]), tmp_path / "x.onnx", opset=opset)
    assert not (tmp_path / "x.onnx").exists()
