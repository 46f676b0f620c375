"""fastmlp.sklearn: scikit-learn's own estimator checks, plus Pipeline / GridSearchCV /
cross_val_score, string labels, multilabel, multi-output, partial_fit, weights, pickling. A refused fit
changes nothing: test_sklearn_refused_fit.py."""

import pickle
import warnings

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")
from sklearn.base import clone  # noqa: E402
from sklearn.datasets import make_classification, make_multilabel_classification, make_regression  # noqa: E402
from sklearn.exceptions import ConvergenceWarning, NotFittedError  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import fastmlp as fm  # noqa: E402
from fastmlp.sklearn import MLPClassifier, MLPRegressor, _expected_failed_checks  # noqa: E402

# Small networks and few epochs keep the ~100 checks fast; the checks that need a decent
# fit (accuracy > 0.83, R^2 > 0.5, class_weight) still pass with these.
CHECKED = [
    MLPClassifier(hidden_layer_sizes=(16,), max_iter=100, learning_rate_init=0.01, random_state=0),
    MLPRegressor(hidden_layer_sizes=(16,), max_iter=100, learning_rate_init=0.01, random_state=0),
]


def _applicable(checks):
    """scikit-learn's checks, less the output-format check of a method the estimator does not
    have (MLPClassifier has no decision_function, as scikit-learn's own): it would only skip."""
    mark = checks.mark
    kept = []
    for param in mark.args[1]:
        estimator, check = param.values if hasattr(param, "values") else param
        name = getattr(check, "func", check).__name__
        method = name.removeprefix("check_classifiers_multilabel_output_format_")
        if method != name and not hasattr(estimator, method):
            continue
        kept.append(param)
    return pytest.mark.parametrize(mark.args[0], kept, **mark.kwargs)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@_applicable(parametrize_with_checks(CHECKED, expected_failed_checks=_expected_failed_checks))
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize(
    "estimator",
    [MLPClassifier(solver="lbfgs", max_iter=100), MLPRegressor(solver="sgd", tol=1e-2, random_state=42, max_iter=100)],
    ids=["MLPClassifier-lbfgs", "MLPRegressor-sgd"],
)
def test_sample_weight_equivalence_with_sklearns_own_parameters(estimator):
    """scikit-learn's instance_generator gives its own MLPs exactly these parameters for this check."""
    from sklearn.utils.estimator_checks import check_sample_weight_equivalence_on_dense_data

    check_sample_weight_equivalence_on_dense_data(type(estimator).__name__, estimator)


def test_expected_failures_are_few_and_explained():
    for est in CHECKED:
        failed = _expected_failed_checks(est)
        assert len(failed) <= 3
        assert all(len(reason) > 40 for reason in failed.values())


@pytest.fixture(scope="module")
def clf_data():
    X, y = make_classification(n_samples=300, n_features=8, n_informative=5, n_classes=3, random_state=0)
    return StandardScaler().fit_transform(X), y


@pytest.fixture(scope="module")
def reg_data():
    X, y = make_regression(n_samples=300, n_features=6, n_targets=2, noise=0.1, random_state=0)
    return StandardScaler().fit_transform(X), y / np.abs(y).max()


def quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return fn(*args, **kwargs)


def test_defaults_match_sklearn_names():
    from sklearn.neural_network import MLPClassifier as SkMLP

    ours, theirs = MLPClassifier().get_params(), SkMLP().get_params()
    shared = set(ours) & set(theirs)
    assert set(theirs) - shared <= {"max_fun"}  # lbfgs only
    assert set(ours) - shared == {"dtype", "class_weight"}
    for name in shared:
        assert ours[name] == theirs[name], name
    assert "class_weight" not in MLPRegressor().get_params()


def test_classifier_fit_predict_string_labels(clf_data):
    X, y = clf_data
    labels = np.array(["ant", "bee", "cat"])[y]
    clf = quiet(MLPClassifier(hidden_layer_sizes=(32,), max_iter=200, random_state=0).fit, X, labels)
    assert list(clf.classes_) == ["ant", "bee", "cat"]
    assert clf.n_features_in_ == 8 and clf.n_iter_ >= 1 and len(clf.loss_curve_) == clf.n_iter_
    pred = clf.predict(X)
    assert pred.dtype == labels.dtype and set(pred) <= set(labels)
    proba = clf.predict_proba(X)
    assert proba.shape == (300, 3) and proba.dtype == np.float64
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    assert (clf.classes_[proba.argmax(axis=1)] == pred).all()
    np.testing.assert_allclose(clf.predict_log_proba(X), np.log(proba))
    assert clf.score(X, labels) > 0.85
    assert clf.out_activation_ == "softmax" and clf.model_.loss_name == "categorical_crossentropy"
    assert [c.shape for c in clf.coefs_] == [(8, 32), (32, 3)]


def test_binary_uses_one_sigmoid_output():
    X, y = make_classification(n_samples=200, n_features=5, random_state=1)
    yl = np.where(y == 1, "yes", "no")
    clf = quiet(
        MLPClassifier(hidden_layer_sizes=(8,), max_iter=100, learning_rate_init=0.01, random_state=0).fit, X, yl
    )
    assert clf.model_.n_outputs == 1 and clf.model_.loss_name == "binary_crossentropy"
    assert clf.out_activation_ == "logistic"
    proba = clf.predict_proba(X)
    assert proba.shape == (200, 2)
    assert (clf.classes_[proba.argmax(1)] == clf.predict(X)).all()
    assert clf.score(X, yl) > 0.85


def test_multilabel():
    X, Y = make_multilabel_classification(n_samples=200, n_features=6, n_classes=4, random_state=0)
    clf = quiet(
        MLPClassifier(hidden_layer_sizes=(32,), max_iter=300, learning_rate_init=0.01, random_state=0).fit, X, Y
    )
    assert clf.model_.n_outputs == 4 and clf.model_.loss_name == "binary_crossentropy"
    pred = clf.predict(X)
    assert pred.shape == (200, 4) and set(np.unique(pred)) <= {0, 1}
    assert clf.predict_proba(X).shape == (200, 4)
    assert clf.score(X, Y) > 0.35  # subset accuracy (scikit-learn's MLP: 0.54)
    with pytest.raises(ValueError, match="multilabel"):
        MLPClassifier(class_weight="balanced", max_iter=2).fit(X, Y)


def test_multi_output_regression(reg_data):
    X, Y = reg_data
    reg = quiet(MLPRegressor(hidden_layer_sizes=(32,), max_iter=300, learning_rate_init=0.01, random_state=0).fit, X, Y)
    assert reg.predict(X).shape == (300, 2)
    assert reg.score(X, Y) > 0.9  # scikit-learn's MLP: 0.97
    one = quiet(MLPRegressor(hidden_layer_sizes=(8,), max_iter=5, random_state=0).fit, X, Y[:, 0])
    assert one.predict(X).shape == (300,)


def test_loss_curve_is_on_sklearns_scale(reg_data):
    X, Y = reg_data
    reg = MLPRegressor(
        hidden_layer_sizes=(8,),
        max_iter=1,
        alpha=0.0,
        shuffle=False,
        random_state=0,
        batch_size=300,
        learning_rate_init=1e-9,
    )
    quiet(reg.fit, X, Y)
    # one full batch with a tiny step: the recorded loss is half the mean squared error at the start
    before = reg.model_.forward(X)  # weights barely moved
    np.testing.assert_allclose(reg.loss_curve_[0], 0.5 * np.mean((before - Y) ** 2), rtol=1e-4)


def test_alpha_becomes_l2_per_batch(clf_data):
    X, y = clf_data
    clf = quiet(MLPClassifier(alpha=0.5, batch_size=50, max_iter=1, random_state=0).fit, X, y)
    assert clf.model_.l2 == pytest.approx(0.5 / 50)
    reg = quiet(MLPRegressor(alpha=0.5, max_iter=1, random_state=0).fit, X, y.astype(float))
    assert reg.model_.l2 == pytest.approx(2 * 0.5 / 200)  # auto batch: min(200, n); x2 for the half-MSE


def test_pipeline_gridsearch_cross_val(clf_data):
    X, y = clf_data
    pipe = make_pipeline(StandardScaler(), MLPClassifier(max_iter=60, learning_rate_init=0.01, random_state=0))
    grid = GridSearchCV(
        pipe, {"mlpclassifier__hidden_layer_sizes": [(8,), (16,)], "mlpclassifier__alpha": [1e-4, 1e-2]}, cv=3
    )
    quiet(grid.fit, X, y)
    assert grid.best_score_ > 0.7
    assert set(grid.best_params_) == {"mlpclassifier__hidden_layer_sizes", "mlpclassifier__alpha"}
    scores = quiet(
        cross_val_score,
        MLPRegressor(hidden_layer_sizes=(16,), max_iter=50, learning_rate_init=0.01, random_state=0),
        X,
        X[:, 0] * 2 + X[:, 1],
        cv=3,
    )
    assert scores.shape == (3,) and scores.mean() > 0.8


def test_pickle_round_trip(clf_data):
    X, y = clf_data
    clf = quiet(MLPClassifier(hidden_layer_sizes=(8,), max_iter=20, random_state=0).fit, X, y)
    clone_ = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(clone_.predict_proba(X), clf.predict_proba(X))
    assert clone_.model_.params.tobytes() == clf.model_.params.tobytes()
    assert clone_.get_params() == clf.get_params()


def test_pickles_name_the_public_module(clf_data, reg_data):
    # A pickle names each object's class by the module that defines it: the estimators must stay
    # defined in fastmlp.sklearn (their shared base lives in a private module), so that a pickle
    # never depends on where the package keeps its private parts.
    import pickletools

    for est, (X, y) in ((MLPClassifier, clf_data), (MLPRegressor, reg_data)):
        fitted = quiet(est(hidden_layer_sizes=(4,), max_iter=2, random_state=0).fit, X, y)
        strings = {arg for op, arg, _ in pickletools.genops(pickle.dumps(fitted)) if isinstance(arg, str)}
        modules = {s for s in strings if s.startswith("fastmlp")}
        assert "fastmlp.sklearn" in modules and not any(m.startswith("fastmlp._") for m in modules), modules
        assert type(pickle.loads(pickle.dumps(fitted))) is est


def test_random_state_reproducible_and_clone(clf_data):
    X, y = clf_data
    a = quiet(MLPClassifier(hidden_layer_sizes=(8,), max_iter=10, random_state=3).fit, X, y)
    b = quiet(clone(a).fit, X, y)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    c = quiet(MLPClassifier(hidden_layer_sizes=(8,), max_iter=10, random_state=4).fit, X, y)
    assert not np.array_equal(a.predict_proba(X), c.predict_proba(X))


@pytest.mark.parametrize("solver, rtol", [("sgd", 1e-10), ("adam", 1e-5)])
def test_same_sample_order_as_sklearn(clf_data, solver, rtol):
    """Several mini-batches per epoch, shuffled: scikit-learn's order (its permutations, drawn from
    random_state after the initial weights), so the same loss curve and weights as scikit-learn's
    (adam: to its epsilon placement, see the module docstring)."""
    from sklearn.neural_network import MLPClassifier as SkMLP

    X, y = clf_data
    params = dict(hidden_layer_sizes=(16,), solver=solver, batch_size=30, max_iter=6, tol=0, random_state=3)
    if solver == "sgd":
        params["learning_rate_init"] = 0.05
    ours = quiet(MLPClassifier(**params).fit, X, y)
    theirs = quiet(SkMLP(**params).fit, X, y)
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=rtol)
    for a, b in zip(ours.coefs_, theirs.coefs_):
        np.testing.assert_allclose(a, b, rtol=rtol * 100, atol=rtol)


@pytest.mark.parametrize("binary", [False, True])
def test_same_early_stopping_split_as_sklearn(clf_data, binary):
    """random_state gives scikit-learn's validation split (stratified only for binary y, as
    scikit-learn's): the same validation scores, epoch by epoch."""
    from sklearn.neural_network import MLPClassifier as SkMLP

    X, y = clf_data
    y = (y == 1).astype(int) if binary else y
    params = dict(
        hidden_layer_sizes=(16,), solver="sgd", alpha=0.0, early_stopping=True, max_iter=8, tol=0, random_state=5
    )
    ours = quiet(MLPClassifier(**params).fit, X, y)
    theirs = quiet(SkMLP(**params).fit, X, y)
    assert ours.validation_scores_ == pytest.approx(theirs.validation_scores_)
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-10)


def test_lbfgs_with_uniform_sample_weights_as_sklearn():
    """L-BFGS with sample weights all 4: scikit-learn's objective divides alpha by the sum of the
    weights (4 n), so it is not the unweighted one; the same loss and weights as scikit-learn's."""
    from sklearn.neural_network import MLPClassifier as SkMLP

    X, y = make_classification(n_samples=120, n_features=5, n_classes=3, n_informative=3, random_state=0)
    sw = np.full(len(y), 4.0)
    params = dict(hidden_layer_sizes=(6,), solver="lbfgs", alpha=1.0, max_iter=15, random_state=0)
    ours = quiet(MLPClassifier(**params).fit, X, y, sample_weight=sw)
    theirs = quiet(SkMLP(**params).fit, X, y, sample_weight=sw)
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-9)
    for a, b in zip(ours.coefs_, theirs.coefs_):
        np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-9)


def test_partial_fit(clf_data):
    X, y = clf_data
    labels = np.array(["x", "y", "z"])[y]
    clf = MLPClassifier(hidden_layer_sizes=(16,), learning_rate_init=0.01, random_state=0)
    with pytest.raises(ValueError, match="classes"):
        clf.partial_fit(X[:50], labels[:50])
    clf.partial_fit(X[:50], labels[:50], classes=["x", "y", "z"])
    assert clf.n_iter_ == 1
    for _ in range(30):
        clf.partial_fit(X, labels)
    assert clf.n_iter_ == 1 and clf.score(X, labels) > 0.8  # scikit-learn: each partial_fit call counts from 0
    with pytest.raises(ValueError, match="classes"):
        clf.partial_fit(X[:5], np.array(["w"] * 5))
    reg = MLPRegressor(hidden_layer_sizes=(8,), random_state=0)
    for _ in range(3):
        reg.partial_fit(X, y.astype(float))
    assert reg.n_iter_ == 1  # scikit-learn: each partial_fit call counts from 0
    with pytest.raises(ValueError, match="early_stopping"):
        MLPRegressor(early_stopping=True).partial_fit(X, y.astype(float))


def test_warm_start(clf_data):
    X, y = clf_data
    clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=5, warm_start=True, random_state=0)
    quiet(clf.fit, X, y)
    model = clf.model_
    first = model.params.copy()
    quiet(clf.fit, X, y)
    assert clf.model_ is model and not np.array_equal(first, model.params)
    assert len(clf.loss_curve_) == 10
    with pytest.raises(ValueError, match="warm_start"):
        clf.fit(X, (y + 1) % 4)
    cold = MLPClassifier(hidden_layer_sizes=(8,), max_iter=5, random_state=0)
    quiet(cold.fit, X, y)
    m1 = cold.model_
    quiet(cold.fit, X, y)
    assert cold.model_ is not m1 and len(cold.loss_curve_) == 5


def test_sample_weight_and_class_weight():
    X, y = make_classification(n_samples=400, n_features=5, weights=[0.9, 0.1], random_state=0)
    base = dict(hidden_layer_sizes=(16,), max_iter=100, learning_rate_init=0.01, random_state=0)
    plain = quiet(MLPClassifier(**base).fit, X, y)
    balanced = quiet(MLPClassifier(class_weight="balanced", **base).fit, X, y)
    assert (balanced.predict(X) == 1).sum() > (plain.predict(X) == 1).sum()
    weighted = quiet(MLPClassifier(**base).fit, X, y, sample_weight=np.where(y == 1, 9.0, 1.0))
    assert (weighted.predict(X) == 1).sum() > (plain.predict(X) == 1).sum()
    as_dict = quiet(MLPClassifier(class_weight={0: 1.0, 1: 9.0}, **base).fit, X, y)
    np.testing.assert_array_equal(as_dict.predict_proba(X), weighted.predict_proba(X))
    ones = quiet(MLPClassifier(**base).fit, X, y, sample_weight=np.ones(len(y)))
    np.testing.assert_array_equal(ones.predict_proba(X), plain.predict_proba(X))
    with pytest.raises(ValueError):
        MLPClassifier(**base).fit(X, y, sample_weight=np.ones(3))


def test_early_stopping_and_schedules(clf_data):
    X, y = clf_data
    clf = quiet(
        MLPClassifier(
            hidden_layer_sizes=(16,),
            max_iter=500,
            early_stopping=True,
            n_iter_no_change=5,
            learning_rate_init=0.05,
            random_state=0,
        ).fit,
        X,
        y,
    )
    assert clf.n_iter_ < 500 and len(clf.validation_scores_) == clf.n_iter_
    assert clf.best_validation_score_ == max(clf.validation_scores_) and clf.best_loss_ is None
    # the restored weights are the best epoch's: they score that on the validation split
    assert clf.best_validation_score_ > 0.7
    for lr in ("constant", "invscaling", "adaptive"):
        sgd = quiet(
            MLPClassifier(
                solver="sgd",
                learning_rate=lr,
                hidden_layer_sizes=(8,),
                max_iter=40,
                learning_rate_init=0.05,
                random_state=0,
            ).fit,
            X,
            y,
        )
        assert sgd.n_iter_ >= 1 and np.isfinite(sgd.loss_curve_).all()
    inv = quiet(MLPClassifier(solver="sgd", learning_rate="invscaling", max_iter=3, random_state=0).fit, X, y)
    assert inv._lr == pytest.approx(0.001 / (inv.t_ + 1) ** 0.5)
    stop = MLPClassifier(hidden_layer_sizes=(8,), max_iter=1000, tol=10.0, n_iter_no_change=2, random_state=0)
    stop.fit(X, y)  # loss never improves by 10: stops once the count exceeds n_iter_no_change, no warning
    assert stop.n_iter_ == 4  # epoch 1 sets best_loss_, epochs 2-4 count 1, 2, 3 > 2


def test_convergence_warning_and_verbose(clf_data, capsys):
    X, y = clf_data
    with pytest.warns(ConvergenceWarning, match="Maximum iterations"):
        MLPClassifier(hidden_layer_sizes=(4,), max_iter=2, tol=0, verbose=True, random_state=0).fit(X, y)
    assert "Iteration 2, loss = " in capsys.readouterr().out


def test_bad_parameters_and_inputs(clf_data):
    X, y = clf_data
    for kwargs in [
        {"solver": "newton"},
        {"solver": "rmsprop"},
        {"activation": "swishy"},
        {"hidden_layer_sizes": (0,)},
        {"alpha": -1},
        {"learning_rate_init": 0},
        {"max_iter": 0},
        {"batch_size": 0},
        {"momentum": 1.5},
        {"validation_fraction": 1.0},
        {"dtype": "float16"},
        {"learning_rate": "cyclic"},
        {"n_iter_no_change": 0},
    ]:
        with pytest.raises(ValueError):
            MLPClassifier(**kwargs).fit(X, y)
    Xn = X.copy()
    Xn[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        MLPClassifier().fit(Xn, y)
    Xi = X.copy()
    Xi[0, 0] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        MLPRegressor().fit(Xi, y.astype(float))
    with pytest.raises(NotFittedError):
        MLPClassifier().predict(X)
    clf = quiet(MLPClassifier(hidden_layer_sizes=(4,), max_iter=2, random_state=0).fit, X, y)
    with pytest.raises(ValueError, match="features"):
        clf.predict(X[:, :3])


def test_activations_and_dtype(clf_data):
    X, y = clf_data
    for act in ("identity", "logistic", "tanh", "relu", "leaky_relu", "elu", "softplus"):
        if act not in ("identity", "logistic") and act not in fm.ACTIVATIONS:
            continue
        clf = quiet(MLPClassifier(hidden_layer_sizes=(8,), activation=act, max_iter=3, random_state=0).fit, X, y)
        assert clf.model_.dense_layers[0].activation == {"identity": "linear", "logistic": "sigmoid"}.get(act, act)
    c64 = quiet(MLPClassifier(hidden_layer_sizes=(8,), max_iter=3, random_state=0).fit, X, y)
    assert c64.model_.dtype == np.float64  # the default, as scikit-learn
    c32 = quiet(MLPClassifier(hidden_layer_sizes=(8,), max_iter=3, dtype="float32", random_state=0).fit, X, y)
    assert c32.model_.dtype == np.float32 and c32.predict_proba(X).dtype == np.float64
    np.testing.assert_allclose(c32.predict_proba(X).sum(axis=1), 1.0, rtol=1e-12)
    r32 = quiet(
        MLPRegressor(hidden_layer_sizes=(8,), max_iter=3, dtype="float32", random_state=0).fit, X, y.astype(float)
    )
    assert r32.model_.dtype == np.float32 and r32.predict(X).dtype == np.float32  # as scikit-learn


def test_coefs_are_views(clf_data):
    X, y = clf_data
    clf = quiet(MLPClassifier(hidden_layer_sizes=(4,), max_iter=2, random_state=0).fit, X, y)
    clf.coefs_[0][...] = 0
    clf.intercepts_[0][...] = 0
    assert np.all(clf.model_.dense_layers[0].weights == 0)
    assert clf.n_layers_ == 3 and clf.n_outputs_ == 3


def test_poisson_regressor_follows_scikit_learn():
    """loss="poisson": an exp output and the half Poisson deviance; with SGD the same loss curve as
    scikit-learn's (same initial weights, same sample order), two outputs included."""
    from sklearn.neural_network import MLPRegressor as SkMLPRegressor

    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 3))
    Y = rng.poisson(np.exp(0.4 * X[:, :2] + 0.3)).astype(float)
    for y in (Y[:, 0], Y):
        kw = dict(loss="poisson", hidden_layer_sizes=(6,), solver="sgd", learning_rate_init=0.01, max_iter=15,
                  random_state=0, batch_size=20)  # fmt: skip
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # not converged in 15 epochs, by design
            ours, theirs = MLPRegressor(**kw).fit(X, y), SkMLPRegressor(**kw).fit(X, y)
        np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-9)
        np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-9)
    with pytest.raises(ValueError, match="negative"):
        MLPRegressor(loss="poisson").fit(X, -Y[:, 0])


def test_coefs_and_intercepts_can_be_assigned():
    """As scikit-learn: assigned lists set the weights (checked); before any fit, the first partial_fit uses them."""
    X, y = make_classification(n_samples=40, n_features=3, n_informative=2, n_redundant=0, random_state=0)
    clf = MLPClassifier(hidden_layer_sizes=(2,), max_iter=5, random_state=0).fit(X, y)
    W = [np.full((3, 2), 0.5), np.full((2, 1), -0.25)]
    clf.coefs_ = W
    clf.intercepts_ = [np.zeros(2), np.ones(1)]
    np.testing.assert_array_equal(clf.coefs_[1], W[1])
    np.testing.assert_array_equal(clf.model_.dense_layers[0].weights, W[0])
    with pytest.raises(ValueError, match="shape"):
        clf.coefs_ = [np.zeros((4, 2)), W[1]]
    with pytest.raises(ValueError, match="2 arrays"):
        clf.intercepts_ = [np.zeros(2)]
    fresh = MLPClassifier(hidden_layer_sizes=(2,), solver="sgd", learning_rate_init=0.1, momentum=0, random_state=0)
    fresh.coefs_ = [W[0].copy(), W[1].copy()]
    fresh.intercepts_ = [np.zeros(2), np.ones(1)]
    fresh.partial_fit(X, y, classes=[0, 1])
    moved = np.abs(fresh.coefs_[0] - W[0]).max()
    assert 0 < moved < 0.5  # one epoch of small steps from the given weights, not from a new initialisation


@pytest.mark.parametrize("batch_size", [40, 10])
def test_sgd_with_uniform_sample_weights_as_sklearn(batch_size):
    """Review: uniform weights c dropped by the stochastic loop kept alpha over the batch size; scikit-learn
    divides it by the batch's weight sum, c x batch (coefs differed by 8e-3 at c = 4, batch 10 of 40)."""
    from sklearn.neural_network import MLPRegressor as SkMLPRegressor

    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 3))
    y = X @ [1.0, -2.0, 0.5]
    p = dict(
        hidden_layer_sizes=(5,),
        solver="sgd",
        alpha=1.0,
        batch_size=batch_size,
        max_iter=3,
        shuffle=False,
        random_state=0,
        learning_rate_init=0.01,
        momentum=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for c in (1.0, 4.0):
            ours = MLPRegressor(**p).fit(X, y, sample_weight=np.full(40, c))
            theirs = SkMLPRegressor(**p).fit(X, y, sample_weight=np.full(40, c))
            for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
                np.testing.assert_allclose(a, b, rtol=0, atol=1e-10)
