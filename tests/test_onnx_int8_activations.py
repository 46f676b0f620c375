"""ONNX export of quantized (int8) Dense layers with every activation: the int8 nodes' constants and the
activation's constants (gelu's and mish's "one", step's and mish's "zero") once shared their
initializer names, so onnx.checker refused the graph ("initializer name is not unique"). Also: no
unused initializer (onnxruntime warns about each one at every session load)."""

import numpy as np
import pytest

import fastmlp as fm

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

ACTIVATIONS = ["linear", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "softplus", "gelu", "silu", "mish", "step"]


def _data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 4)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0)
    return X, y


def _run(path, X):
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return sess.run(None, {"input": X})


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_int8_hidden_activation_exports_and_runs(tmp_path, activation):
    X, y = _data()
    model = fm.Sequential([fm.Dense(4, 6, activation), fm.Dense(6, 3, "softmax")], seed=0)
    model.fit(X, y, epochs=3, verbose=0)
    model.quantize("int8")
    for opset in (17, 18):
        path = tmp_path / f"q{opset}.onnx"
        fm.onnx.export(model, path, opset=opset)
        out, labels = _run(path, X)
        np.testing.assert_allclose(out, model.forward(X), rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(labels, model.predict(X))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_every_initializer_is_used(activation, dtype):
    model = fm.Sequential([fm.Dense(4, 6, activation), fm.Dense(6, 1)], loss="mse", dtype=dtype, seed=0)
    models = [model]
    if dtype == "float32":
        quantized = fm.Sequential([fm.Dense(4, 6, activation), fm.Dense(6, 1)], loss="mse", seed=0)
        models.append(quantized.quantize("int8") or quantized)
    for m in models:
        graph = fm.onnx.to_onnx(m).graph
        used = {name for node in graph.node for name in node.input}
        unused = [t.name for t in graph.initializer if t.name not in used]
        assert unused == []
