"""fastmlp.sklearn: a refused fit, refit or continuation (a quantized model_, bad parameters on a
refit, a fit refused part-way) changes nothing, the random_state object included."""

import warnings

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")
from sklearn.datasets import make_classification  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402

from fastmlp.sklearn import MLPClassifier  # noqa: E402


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_continuing_a_quantized_model_is_refused_unchanged(solver):
    """A model_ quantized after fit (model_.quantize("int8")) predicts; fitting it further
    (warm_start, partial_fit) is a clear RuntimeError that leaves it as it was."""
    X, y = make_classification(n_samples=200, n_features=8, n_classes=3, n_informative=5, random_state=0)
    X = X.astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = MLPClassifier(hidden_layer_sizes=(16,), max_iter=30, random_state=0, solver=solver).fit(X, y)
    est.model_.quantize("int8")
    before = est.predict_proba(X)
    calls = [lambda: est.set_params(warm_start=True).fit(X, y)]
    if solver != "lbfgs":
        calls.append(lambda: est.partial_fit(X, y))
    for call in calls:
        with pytest.raises(RuntimeError, match="quantized"):
            call()
        np.testing.assert_array_equal(est.predict_proba(X), before)
    # a fresh fit (no warm start) builds a new float model, as scikit-learn's refit does
    est.set_params(warm_start=False).fit(X, y)
    assert est.model_.layers[0].quantization_mode is None


def _state(est) -> dict:
    """What a refused fit must leave as it was: the attributes and the fitted weights."""
    return {
        "attrs": sorted(vars(est)),
        "params": est.model_.params.copy(),
        "n_features_in_": est.n_features_in_,
        "n_iter_": est.n_iter_,
        "classes_": getattr(est, "classes_", None),
    }


def _same(a: dict, b: dict) -> bool:
    return (
        a["attrs"] == b["attrs"]
        and np.array_equal(a["params"], b["params"])
        and a["n_features_in_"] == b["n_features_in_"]
        and a["n_iter_"] == b["n_iter_"]
        and np.array_equal(a["classes_"], b["classes_"])
    )


REFUSED_REFITS = {
    # sklearn's checks set n_features_in_ (2 here) before the weights were refused
    "zero sample weights": ({}, lambda X, y: ((X[:, :2], y), {"sample_weight": np.zeros(len(y))})),
    # the model_ was re-initialised before the validation split was found too small
    "validation set too small": ({"early_stopping": True}, lambda X, y: ((X[:4], y[:4]), {})),
    # LabelBinarizer was replaced before numpy refused to sort str with None
    "labels str and None": ({}, lambda X, y: ((X, np.array(["a", None] * 20, dtype=object)), {})),
}


@pytest.mark.parametrize(
    "case, solver",
    # lbfgs has no early stopping (scikit-learn ignores the parameter there too)
    [(c, s) for c in sorted(REFUSED_REFITS) for s in ("adam", "lbfgs") if not (s == "lbfgs" and "validation" in c)],
)
def test_a_refused_refit_changes_nothing(case, solver):
    params, call = REFUSED_REFITS[case]
    X = np.random.default_rng(0).normal(size=(40, 3))
    y = np.array(["a", "b", "c"])[np.arange(40) % 3]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = MLPClassifier(hidden_layer_sizes=(8,), max_iter=5, random_state=0, solver=solver, **params).fit(X, y)
    before, proba, labels = _state(est), est.predict_proba(X), est.predict(X)
    args, kwargs = call(X, y)
    with pytest.raises((ValueError, TypeError)):
        est.fit(*args, **kwargs)
    assert _same(_state(est), before)
    np.testing.assert_array_equal(est.predict_proba(X), proba)
    np.testing.assert_array_equal(est.predict(X), labels)


def test_a_refused_fit_leaves_a_random_state_object_as_it_was():
    """Review: a RandomState passed as random_state is the user's object; the refused fit drew the
    weights and the split from it, so a retry drew different ones."""
    rs = np.random.RandomState(0)
    X = np.random.default_rng(0).standard_normal((12, 3))
    y = np.arange(12) % 2
    before = rs.get_state()
    est = MLPClassifier(hidden_layer_sizes=(4,), early_stopping=True, validation_fraction=0.05, random_state=rs)
    with pytest.raises(ValueError):
        est.fit(X, y)  # a validation set of 1 sample for 2 classes
    after = rs.get_state()
    assert np.array_equal(before[1], after[1]) and before[2:] == after[2:]
    assert not hasattr(est, "model_")
