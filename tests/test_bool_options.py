"""Options documented as bool take True or False (numpy.bool_ too), nothing truthy: shuffle="batch"
was silently True (a user's complaint). One rule, fastmlp._validation.as_bool, everywhere."""

import numpy as np
import pytest

import fastmlp as fm
import fastmlp.sklearn as fsk
from fastmlp import plot

X = np.random.default_rng(0).normal(size=(40, 3))
y = np.arange(40) % 2
BAD = ["batch", 1, 0, "False", None]


def _model():
    return fm.Sequential([fm.Dense(3, "relu"), fm.Dense(2, "softmax")], seed=0)


@pytest.mark.parametrize("option", ["shuffle", "record_gradients", "sharded"])
def test_fit_bool_options(option):
    for bad in BAD:
        model = _model()
        with pytest.raises(TypeError, match=f"{option} must be True or False, got {bad!r}"):
            model.fit(X, y, epochs=1, **{option: bad})
        assert not model.built  # refused before anything changed
    _model().fit(X, y, epochs=1, **{option: np.False_})


def test_fit_stratify_is_a_bool_or_none():
    for bad in ("yes", 1):
        with pytest.raises(TypeError, match="stratify must be True or False, or None"):
            _model().fit(X, y, epochs=1, validation_split=0.25, stratify=bad)
    _model().fit(X, y, epochs=1, validation_split=0.25, stratify=None)


def test_evaluate_return_dict():
    model = _model()
    model.fit(X, y, epochs=1)
    with pytest.raises(TypeError, match="return_dict must be True or False"):
        model.evaluate(X, y, return_dict=1)
    assert set(model.evaluate(X, y, return_dict=np.True_)) == {"loss", "accuracy"}


@pytest.mark.parametrize(
    "make, option",
    [
        (lambda v: fm.EarlyStopping(restore_best=v), "restore_best"),
        (lambda v: fm.EarlyStopping(restore_best_weights=v), "restore_best_weights"),
        (lambda v: fm.callbacks.ModelCheckpoint("m.safetensors", save_best_only=v), "save_best_only"),
        (lambda v: fm.callbacks.CSVLogger("log.csv", append=v), "append"),
        (lambda v: fm.Normalization(invert=v), "invert"),
        (lambda v: fm.ColumnEmbedding(fill_missing=v), "fill_missing"),
        (lambda v: fm.SGD(momentum=0.9, nesterov=v), "nesterov"),
        (lambda v: fm.Adam(decoupled=v), "decoupled"),
    ],
)
def test_constructor_bool_options(make, option):
    for bad in ("batch", 1, "False"):
        with pytest.raises(TypeError, match=f"{option} must be True or False"):
            make(bad)
    make(np.True_)


def test_model_checkpoint_verbose_is_keras_verbose():
    """Keras documents 0 or 1 and prints for any verbose > 0: 2 is taken (as 1), as code ported from it passes."""
    for value in (1, True, 2, "auto"):
        assert fm.callbacks.ModelCheckpoint("m.safetensors", verbose=value).verbose == 1
    assert fm.callbacks.ModelCheckpoint("m.safetensors", verbose=0).verbose == 0
    for bad in ("yes", 3, -1, None):
        with pytest.raises(ValueError, match="verbose must be 0, 1 or 2"):
            fm.callbacks.ModelCheckpoint("m.safetensors", verbose=bad)


def test_plot_bool_options(tmp_path):
    with pytest.raises(TypeError, match="normalize must be True or False"):
        plot.plot_confusion_matrix([0, 1], [0, 1], tmp_path / "cm.png", normalize="rows")
    with pytest.raises(TypeError, match="log_scale must be True or False, or None"):
        plot.plot_loss([1.0, 0.5], tmp_path / "loss.png", log_scale="auto")
    assert not (tmp_path / "cm.png").exists() and not (tmp_path / "loss.png").exists()


@pytest.mark.parametrize("option", ["shuffle", "warm_start", "nesterovs_momentum", "early_stopping"])
def test_sklearn_bool_parameters(option):
    """scikit-learn's words and exception (a ValueError and a TypeError, as its InvalidParameterError)."""
    for error in (TypeError, ValueError):
        with pytest.raises(error, match=f"The '{option}' parameter must be an instance of 'bool'; got 'batch'"):
            fsk.MLPClassifier(max_iter=2, **{option: "batch"}).fit(X, y)
    with pytest.raises(ValueError, match=f"The '{option}' parameter must be an instance of 'bool'; got 1"):
        fsk.MLPRegressor(max_iter=2, **{option: 1}).fit(X, y.astype(float))


def test_sklearn_verbose_is_a_bool_or_a_count():
    with pytest.raises(ValueError, match="'verbose' parameter"):
        fsk.MLPClassifier(max_iter=2, verbose="batch").fit(X, y)
    with pytest.raises(ValueError, match="'verbose' parameter"):
        fsk.MLPClassifier(max_iter=2, verbose=-1).fit(X, y)


def test_sklearn_refusals_are_scikit_learns_exception():
    from sklearn.utils._param_validation import InvalidParameterError

    with pytest.raises(InvalidParameterError):
        fsk.MLPClassifier(max_iter=2, shuffle="batch").fit(X, y)
