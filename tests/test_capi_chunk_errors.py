"""What a refused C API prediction of several chunks (more rows than the workspace's max_rows) leaves in
the output buffer, as fastmlp/fastmlp.h says: an input it cannot take (NaN, infinity) in any chunk is
found before any output is written; outputs that overflow to NaN inside the layers are found only as
their chunk runs, so the rows of the chunks before it are written (the header promised nothing written
at all; a second pass to find them first would double every chunked call's cost)."""

import numpy as np
import pytest

import fastmlp as fm
import test_capi
from test_capi import INVALID_ARGUMENT, CModel

lib = pytest.fixture(scope="module")(test_capi.lib.__wrapped__)


@pytest.fixture
def model_path(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 4)).astype(np.float32)
    model = fm.Sequential([fm.Dense(4, 6, "relu"), fm.Dense(6, 3, "softmax")], seed=0)
    model.fit(X, (X[:, 0] > 0).astype(int) + (X[:, 1] > 0), epochs=2, verbose=0)
    path = tmp_path / "m.safetensors"
    model.save(path)
    return path


def test_a_bad_input_in_a_later_chunk_writes_nothing(lib, model_path):
    c = CModel(lib, model_path, max_rows=2)
    X = np.zeros((5, 4), np.float32)
    X[4, 1] = np.inf
    status, out = c.call("predict_proba", X, 3, np.float32)
    assert status == INVALID_ARGUMENT and b"X[4, 1]" in lib.fastmlp_last_error()
    assert (out == -1).all()


def test_outputs_that_overflow_in_a_later_chunk_leave_the_earlier_chunks_written(lib, model_path):
    c = CModel(lib, model_path, max_rows=2)
    X = np.zeros((5, 4), np.float32)
    X[4] = 3e38  # finite, but W x overflows: NaN softmax outputs
    status, out = c.call("predict_proba", X, 3, np.float32)
    assert status == INVALID_ARGUMENT and b"NaN for row 4" in lib.fastmlp_last_error()
    expected = fm.load(model_path).predict_proba(X[:1])
    np.testing.assert_allclose(out[:4], np.repeat(expected, 4, axis=0), rtol=1e-6)
    assert (out[4] == -1).all()
    # one chunk: nothing written
    c1 = CModel(lib, model_path, max_rows=8)
    status, out = c1.call("predict_proba", X, 3, np.float32)
    assert status == INVALID_ARGUMENT and (out == -1).all()
