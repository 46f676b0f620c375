"""One rule for class ids (fastmlp._validation.check_class_ids): fit's targets and fastmlp.plot's
confusion matrix accept and refuse the same values, with the same words."""

import numpy as np
import pytest

import fastmlp as fm
from fastmlp import plot

X = np.random.default_rng(0).normal(size=(4, 3))


def _fit_error(y):
    model = fm.Sequential([fm.Dense(3, 2, "softmax")], seed=0)
    with pytest.raises((ValueError, TypeError)) as info:
        model.fit(X, y, epochs=1)
    return info.value


def test_the_same_words_from_fit_and_from_the_plot():
    y = np.array([0.5, 1.0, 0.0, 1.0])
    fit = _fit_error(y)
    with pytest.raises(ValueError) as cm:
        plot.confusion_matrix(y, [0, 1, 0, 1])
    assert str(fit) == "y must hold integer class ids, got non-integral values"
    assert str(cm.value) == "y_true must hold integer class ids, got non-integral values"


def test_whole_floats_and_bools_are_ids_in_both():
    ids = np.array([0.0, 1.0, 1.0, 0.0])
    model = fm.Sequential([fm.Dense(3, 2, "softmax")], seed=0)
    model.fit(X, ids, epochs=1)
    model.fit(X, ids.astype(bool), epochs=1)
    np.testing.assert_array_equal(plot.confusion_matrix(ids, ids.astype(bool)), [[2, 0], [0, 2]])


def test_other_dtypes_are_type_errors_in_both():
    y = np.array([np.timedelta64(0), np.timedelta64(1), np.timedelta64(0), np.timedelta64(1)])
    with pytest.raises(TypeError, match="y_true must hold integer class ids, got dtype timedelta64"):
        plot.confusion_matrix(y, [0, 1, 0, 1])
    from fastmlp._validation import as_targets

    with pytest.raises(TypeError, match="y must hold integer class ids, got dtype timedelta64"):
        as_targets(y.view("m8[s]").astype("m8[s]"), "y", "categorical_crossentropy", 2, 4, np.float32)
