"""ONNX export of an Embedding: a code that is not an integer in [0, input_dim) is refused by
onnxruntime, as fastmlp refuses it (ValueError naming the column). The graph's Gather alone took a
negative code as counted from the end (-1: the last row) and its Cast truncated 2.5 to 2: a silently
different prediction. Valid codes still give model.forward."""

import numpy as np
import pytest

import fastmlp as fm

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_bad_codes_are_refused_and_good_ones_predict(tmp_path, dtype):
    rng = np.random.default_rng(0)
    X = rng.integers(0, 10, size=(60, 3)).astype(dtype)
    y = (X[:, 0] > 4).astype(int) + (X[:, 1] > 6)
    model = fm.Sequential(
        [fm.Embedding(10, 4), fm.Dense(12, 8, "tanh"), fm.Dense(8, 3, "softmax")], dtype=dtype, seed=0
    )
    model.fit(X, y, epochs=2, verbose=0)
    path = tmp_path / "e.onnx"
    fm.onnx.export(model, path)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    out, labels = sess.run(None, {"input": X})
    np.testing.assert_allclose(out, model.forward(X), rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(labels, model.predict(X))
    for bad in (-1.0, 2.5, np.nan, 10.0):
        Xb = X[:3].copy()
        Xb[1, 2] = bad
        with pytest.raises(ValueError):
            model.forward(Xb)
        with pytest.raises(Exception, match="out of data bounds|out of bounds"):
            sess.run(None, {"input": Xb})
