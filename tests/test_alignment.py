"""F1: arrays whose data are not aligned to their element size (a float32 view one byte into a
buffer) never reach the GEMM or Eigen: the Python layer copies them, and the C++ core refuses them
with a ValueError if they get there some other way (dereferencing them is undefined behaviour)."""

import numpy as np
import pytest

import fastmlp as fm


def misaligned(a: np.ndarray) -> np.ndarray:
    """A C-contiguous copy of `a` whose data start one byte past an aligned address."""
    raw = np.zeros(a.nbytes + a.itemsize, np.uint8)
    out = raw[1 : 1 + a.nbytes].view(a.dtype).reshape(a.shape)
    out[...] = a
    assert out.flags.c_contiguous and not out.flags.aligned
    return out


def _model(dtype):
    return fm.Sequential([fm.Dense(4, 8, "relu"), fm.Dense(8, 3, "softmax")], dtype=dtype, seed=1)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_misaligned_inputs_are_copied_by_the_python_layer(dtype):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(16, 4)).astype(dtype)
    y = rng.integers(0, 3, 16)
    Y = np.eye(3, dtype=dtype)[y]
    a, b = _model(dtype), _model(dtype)
    w = rng.random(16).astype(dtype)
    a.fit(X, Y, epochs=2, batch_size=4, sample_weight=w)
    b.fit(misaligned(X), misaligned(Y), epochs=2, batch_size=4, sample_weight=misaligned(w))
    np.testing.assert_array_equal(a.params, b.params)
    np.testing.assert_array_equal(a.predict(X), b.predict(misaligned(X)))
    assert a.loss(X, Y, sample_weight=w) == b.loss(misaligned(X), misaligned(Y), sample_weight=misaligned(w))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_core_refuses_misaligned_arrays(dtype):
    model = _model(dtype)
    X = np.ones((5, 4), dtype)
    model.predict(X)  # builds the engine
    engine = model._engine
    engine.forward(X)  # aligned: fine
    with pytest.raises(ValueError, match="X is not aligned"):
        engine.forward(misaligned(X))
    Y = np.eye(3, dtype=dtype)[[0, 1, 2, 0, 1]]
    with pytest.raises(ValueError, match="y is not aligned"):
        engine.objective(X, misaligned(Y))
    with pytest.raises(ValueError, match="y is not aligned"):
        engine.objective(X, misaligned(np.array([0, 1, 2, 0, 1], np.int32)))
    with pytest.raises(ValueError, match="sample_weight is not aligned"):
        engine.objective(X, Y, misaligned(np.ones(5, dtype)))
