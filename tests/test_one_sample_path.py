"""The one-sample path of forward / predict / predict_proba / model(X) (issue 27's latency): a
numpy.ndarray of real numbers goes to C++ in one call (Engine.forward_array), as it is when the
core maps it, else after NumPy's cast; it gives the general path's results and its error
messages, and the rule "maps as it is" lives once, in the core (_core.mappable, which
fastmlp.data uses)."""

import re
import warnings

import numpy as np
import pytest

import fastmlp as fm
from fastmlp import _core
from fastmlp import data as fm_data

RNG = np.random.default_rng(0)
X = RNG.normal(size=(8, 4))
y = RNG.integers(0, 3, size=8)


def _model(dtype="float32", quantized=False):
    model = fm.Sequential([fm.Dense(4, 16, "relu"), fm.Dense(16, 3, "softmax")], dtype=dtype, seed=1)
    model.fit(X, y, epochs=2, batch_size=4)
    if quantized:
        model.quantize("int8")
    return model


def _misaligned(a):
    raw = np.zeros(a.nbytes + a.itemsize, np.uint8)
    out = raw[1 : 1 + a.nbytes].view(a.dtype).reshape(a.shape)
    out[...] = a
    return out


def _read_only(a):
    a = a.copy()
    a.flags.writeable = False
    return a


MATRIX = pytest.mark.filterwarnings("ignore:the matrix subclass:PendingDeprecationWarning")


@MATRIX
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_mappable_is_the_cores_rule(dtype):
    dt = np.dtype(dtype)
    other = np.float64 if dtype == np.float32 else np.float32
    x = X[:2].astype(dtype)
    assert _core.mappable(x, dt) and fm_data.mappable is _core.mappable
    assert _core.mappable(_read_only(x), dt)  # the core only reads X
    assert _core.mappable(x[:1], dt) and _core.mappable(x[1:], dt)  # a row view is C-contiguous
    for no in (
        x.astype(other),
        np.asfortranarray(X[:3, :2].astype(dtype)),
        x[:, ::2],
        _misaligned(x),
        x.astype(dt.newbyteorder()),  # the other byte order
        np.asmatrix(x),  # a subclass: Python converts it
        x.tolist(),
        None,
        "x",
    ):
        assert not _core.mappable(no, dt)
    with pytest.raises(TypeError, match="dtype must be float32 or float64"):
        _core.mappable(x, np.dtype(np.int32))


@MATRIX
@pytest.mark.parametrize("quantized", [False, True])
def test_forward_array_is_forward_of_the_cast_or_none(quantized):
    model = _model(quantized=quantized)
    engine = model._engine
    x = X[:1].astype(np.float32)
    np.testing.assert_array_equal(engine.forward_array(x), engine.forward(x))
    for other in (X[:1], X[:1].astype(np.float16), np.rint(X[:1] * 3).astype(np.int64), X[:1] > 0, _misaligned(x)):
        before = other.copy()
        np.testing.assert_array_equal(engine.forward_array(other), engine.forward(np.array(other, np.float32)))
        np.testing.assert_array_equal(other, before)  # cast into a copy
    for no in (x.tolist(), None, np.asmatrix(x), x.astype(np.complex64), x.astype(object), x.astype(str)):
        assert engine.forward_array(no) is None  # Python converts (or refuses) these
    with pytest.raises(ValueError, match="X has 3 features but the model expects 4"):
        engine.forward_array(x[:, :3].copy())
    with pytest.raises(ValueError, match="X has 3 features but the model expects 4"):
        engine.forward_array(X[:1, :3])


@MATRIX
@pytest.mark.parametrize("quantized", [False, True])
@pytest.mark.parametrize("method", ["forward", "predict", "predict_proba", "__call__"])
def test_every_form_of_one_row_gives_the_same_result(method, quantized):
    model = _model(quantized=quantized)
    f = getattr(model, method)
    x32 = X[2:3].astype(np.float32)
    want = f(x32)
    for x in (
        X[2:3],  # float64: one cast
        _read_only(x32),
        _misaligned(x32),
        np.asfortranarray(X[2:4].astype(np.float32))[:1],
        x32.tolist(),
        np.asmatrix(x32),
    ):
        np.testing.assert_array_equal(f(x), want)
    for other in (X[2:3].astype(np.float16), np.rint(X[2:3] * 3).astype(np.int32), X[2:3] > 0):
        np.testing.assert_array_equal(f(other), f(other.astype(np.float32)))  # the same cast as _X's
    a, b = f(x32), f(x32)
    assert a is not b and not np.shares_memory(a, b)  # each call's own output


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_one_sample_paths_give_the_general_paths_errors(dtype):
    model = _model()
    before = model.params.copy()
    with pytest.raises(ValueError, match=re.escape("X has 3 features but the model expects 4")):
        model.predict(X[:1, :3].astype(dtype))
    with pytest.raises(ValueError, match=re.escape("reshape(1, -1) if it contains a single sample")):
        model.forward(X[0].astype(dtype))
    with pytest.raises(ValueError, match="X is empty"):
        model.predict_proba(X[:0].astype(dtype))
    bad = X[:1].astype(dtype)
    bad[0, 1] = np.nan
    with pytest.raises(ValueError, match="X contains NaN or infinity"):
        model(bad)
    with pytest.raises(TypeError, match="X must hold numbers"):
        model.forward(np.array([["a", "b", "c", "d"]]))
    with pytest.raises(TypeError, match="X must hold real numbers"):
        model.forward(X[:1].astype(np.complex128))
    np.testing.assert_array_equal(model.params, before)  # a failed call changes nothing


def test_a_float64_model_takes_float32_rows_by_one_cast():
    model = _model("float64")
    x = X[:1].astype(np.float32)
    np.testing.assert_array_equal(model.forward(x), model.forward(x.astype(np.float64)))
    assert model.forward(x).dtype == np.float64


def test_float64_rows_that_overflow_float32_are_refused_as_by_the_general_path():
    model = _model()
    for f in (model.forward, lambda x: model.forward(x, out=np.empty((1, 3), np.float32))):  # fast, general
        # (the fast path's cast, NumPy's inside the core, also warns "overflow encountered in cast")
        with pytest.raises(ValueError, match="X overflows float32: .* up to 1e\\+39"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            f(np.full((1, 4), 1e39))
