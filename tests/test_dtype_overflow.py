"""Values that a float32 model cannot hold: "y overflows float32 ... at most 3.403e+38", not "y
contains NaN or infinity" (a user's complaint about MLPRegressor fitted on y = 1e300). One rule,
fastmlp._validation.as_c_array, for every cast to the model's dtype."""

import numpy as np
import pytest

import fastmlp as fm
import fastmlp.sklearn as fsk
from fastmlp._validation import as_c_array

rng = np.random.default_rng(0)
X = rng.normal(size=(20, 3))
BIG = np.full(20, 1e300)


def _says_overflow(name):
    return pytest.raises(ValueError, match=rf"{name} overflows float32: .* up to 1e\+300.* at most 3\.403e\+38")


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_sklearn_regressor_names_y_and_the_dtype(solver):
    with _says_overflow("y"):
        fsk.MLPRegressor(max_iter=2, dtype="float32", solver=solver).fit(X, BIG)


def test_sklearn_names_x_in_fit_and_predict():
    with _says_overflow("X"):
        fsk.MLPRegressor(max_iter=2, dtype="float32").fit(np.column_stack([BIG, X[:, 1:]]), X[:, 0])
    fitted = fsk.MLPClassifier(max_iter=2, dtype="float32").fit(X, np.arange(20) % 2)
    with _says_overflow("X"):
        fitted.predict(np.column_stack([BIG, X[:, 1:]]))


def test_sequential_names_x_y_and_sample_weight():
    model = fm.Sequential([fm.Dense(3, 1)], seed=0)
    before = model.params.copy()
    with _says_overflow("y"):
        model.fit(X, BIG, epochs=1)
    with _says_overflow("X"):
        model.fit(np.column_stack([BIG, X[:, 1:]]), X[:, 0], epochs=1)
    with _says_overflow("sample_weight"):
        model.fit(X, X[:, 0], epochs=1, sample_weight=BIG)
    np.testing.assert_array_equal(model.params, before)  # refused: nothing changed
    assert model.epochs_trained == 0
    model.fit(X, X[:, 0], epochs=1)
    with _says_overflow("X"):
        model.predict(np.column_stack([BIG, X[:, 1:]]))


def test_float64_takes_them_and_infinity_is_still_nan_or_infinity():
    model = fm.Sequential([fm.Dense(3, 1)], seed=0, dtype="float64")
    model.build(3)
    assert np.isfinite(model.loss(X, np.full(20, 1e150)))
    with pytest.raises(ValueError, match="y contains NaN or infinity"):
        fm.Sequential([fm.Dense(3, 1)], seed=0).fit(X, np.full(20, np.inf), epochs=1)


def test_a_float64_model_is_not_told_to_use_float64():
    """A float64 cast that overflows (from a long double) names the limit without the float32 advice."""
    big = np.array([[np.longdouble("1e400"), 0.0]], dtype=np.longdouble)
    with pytest.raises(ValueError, match=r"X overflows float64") as refused:
        as_c_array(big, np.float64, "X")
    assert "dtype='float64'" not in str(refused.value)
    with pytest.raises(ValueError, match=r"or use dtype='float64'"):
        as_c_array(np.array([1e300]), np.float32, "y")


def test_casts_that_cannot_overflow_skip_the_check_and_keep_the_array():
    """The same dtype, a narrower float, integers and bools cannot overflow: no np.errstate, no copy of an
    array of the model's dtype."""
    x = np.ones((3, 2), np.float32)
    assert as_c_array(x, np.float32) is x
    for src in (np.float16, np.int64, np.uint64, np.bool_):
        np.testing.assert_array_equal(as_c_array(np.ones(3, src), np.float32), np.ones(3, np.float32))
