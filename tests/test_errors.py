"""Bad input -> ValueError / TypeError naming the argument (and, where shapes are
involved, the shapes seen).  Matches are on short robust substrings only."""

import re

import numpy as np
import pytest

import fastmlp as fm
from helpers import build

ERR = (ValueError, TypeError)


@pytest.fixture
def cat_model():
    return build([4, 5, 3], ["tanh", "softmax"], seed=0)  # categorical, k = 3


@pytest.fixture
def bin_model():
    return build([4, 1], ["sigmoid"], seed=0)  # binary, 1 output


@pytest.fixture
def reg_model():
    return build([4, 2], ["linear"], loss="mse", seed=0)


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(6, 4)), np.array([0, 1, 2, 0, 1, 2])


def _shape_in(msg, shape):
    """The message mentions the shape seen, written like (6, 3) or 6x3 or [6, 3]."""
    nums = [str(n) for n in shape]
    pat = r"[\(\[]?\s*" + r"\s*[,x×]\s*".join(nums) + r"\s*,?\s*[\)\]]?"
    return re.search(pat, msg) is not None


def _methods(model, X, y):
    return {
        "fit": lambda: model.fit(X, y, epochs=1, batch_size=None),
        "loss": lambda: model.loss(X, y),
        "gradients": lambda: model.gradients(X, y),
        "accuracy": lambda: model.accuracy(X, y),
    }


# ------------------------------------------------------------------------------------
# X shape problems
# ------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["forward", "predict", "predict_proba", "trace"])
def test_wrong_feature_count_predict_side(cat_model, method):
    X = np.zeros((6, 3))
    with pytest.raises(ERR, match="X") as exc:
        getattr(cat_model, method)(X)
    msg = str(exc.value)
    assert "3" in msg and "4" in msg, msg  # seen 3, expected 4


@pytest.mark.parametrize("method", ["fit", "loss", "gradients", "accuracy"])
def test_wrong_feature_count_training_side(cat_model, data, method):
    _, y = data
    X = np.zeros((6, 5))
    with pytest.raises(ERR, match="X") as exc:
        _methods(cat_model, X, y)[method]()
    assert _shape_in(str(exc.value), (6, 5)) or "5" in str(exc.value)


@pytest.mark.parametrize("method", ["fit", "loss", "gradients", "accuracy"])
def test_x_y_length_mismatch(cat_model, data, method):
    X, y = data
    with pytest.raises(ERR, match="y") as exc:
        _methods(cat_model, X, y[:5])[method]()
    msg = str(exc.value)
    assert "6" in msg and "5" in msg, msg


@pytest.mark.parametrize("bad", [np.zeros(4), np.zeros((2, 2, 4)), np.float64(1.0)], ids=["1-D", "3-D", "0-D"])
@pytest.mark.parametrize("method", ["forward", "predict", "fit"])
def test_x_not_2d(cat_model, bad, method):
    call = (
        (lambda: cat_model.fit(bad, np.array([0]), epochs=1, batch_size=None))
        if method == "fit"
        else (lambda: getattr(cat_model, method)(bad))
    )
    with pytest.raises(ERR, match="X"):
        call()


@pytest.mark.parametrize("method", ["forward", "fit", "loss"])
def test_empty_x(cat_model, method):
    X = np.zeros((0, 4))
    y = np.zeros((0,), dtype=int)
    call = {
        "forward": lambda: cat_model.forward(X),
        "fit": lambda: cat_model.fit(X, y, epochs=1, batch_size=None),
        "loss": lambda: cat_model.loss(X, y),
    }[method]
    with pytest.raises(ERR, match="X|empty"):
        call()


def test_empty_features(cat_model):
    with pytest.raises(ERR, match="X"):
        cat_model.forward(np.zeros((3, 0)))


# ------------------------------------------------------------------------------------
# non-finite values
# ------------------------------------------------------------------------------------
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize("method", ["fit", "loss", "gradients", "forward", "predict"])
def test_non_finite_x(reg_model, value, method):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(5, 4))
    X[2, 1] = value
    y = rng.normal(size=(5, 2))
    call = {
        "forward": lambda: reg_model.forward(X),
        "predict": lambda: reg_model.predict(X),
        **_methods(reg_model, X, y),
    }[method]
    with pytest.raises(ERR, match="X"):
        call()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize("pos", [(0, 0), (1, 16), (2, 36)], ids=["first", "vector-boundary", "last"])
def test_non_finite_x_found_anywhere(dtype, value, pos):
    """The core's finiteness check reads X in SIMD vectors: a bad value in the first lane, at a vector
    boundary of an inner row and in the scalar tail of the last row is found; extreme finite values pass."""
    model = build([37, 2], ["linear"], loss="mse", dtype=dtype)
    info = np.finfo(dtype)
    X = np.full((3, 37), info.max, dtype=dtype)
    X[0, 1:4] = [-info.max, info.tiny / 4, -0.0]  # subnormal and negative zero are finite
    try:  # the inputs are accepted: finite (their sums overflow to inf or NaN; NaN outputs are an error)
        model.forward(X)
    except ValueError as e:
        assert "outputs are NaN" in str(e)
    X[pos] = value
    with pytest.raises(ValueError, match="X contains NaN or infinity"):
        model.forward(X)


@pytest.mark.parametrize("value", [np.nan, np.inf], ids=["nan", "inf"])
@pytest.mark.parametrize("kind", ["mse", "binary", "categorical_onehot"])
def test_non_finite_y(reg_model, bin_model, cat_model, value, kind):
    rng = np.random.default_rng(2)
    X = rng.normal(size=(5, 4))
    if kind == "mse":
        model, y = reg_model, rng.normal(size=(5, 2))
    elif kind == "binary":
        model, y = bin_model, np.array([0.0, 1.0, 1.0, 0.0, 1.0])
    else:
        model, y = cat_model, np.eye(3)[[0, 1, 2, 0, 1]]
    y = y.astype(float)
    y.flat[3] = value
    for call in (
        lambda: model.fit(X, y, epochs=1, batch_size=None),
        lambda: model.loss(X, y),
        lambda: model.gradients(X, y),
    ):
        with pytest.raises(ERR, match="y"):
            call()


def test_fit_with_nan_does_not_touch_weights(reg_model):
    W = reg_model.layers[0].weights.copy()
    X = np.ones((3, 4))
    X[0, 0] = np.nan
    with pytest.raises(ERR):
        reg_model.fit(X, np.zeros((3, 2)), epochs=1)
    np.testing.assert_array_equal(reg_model.layers[0].weights, W)


# ------------------------------------------------------------------------------------
# labels out of range
# ------------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", [3, 7, -1], ids=["k", "k+4", "negative"])
@pytest.mark.parametrize("method", ["fit", "loss", "gradients", "accuracy"])
def test_categorical_label_out_of_range(cat_model, data, bad, method):
    X, y = data
    y = y.copy()
    y[4] = bad
    with pytest.raises(ERR, match="y") as exc:
        _methods(cat_model, X, y)[method]()
    assert str(bad) in str(exc.value) or "range" in str(exc.value)


def test_categorical_non_integer_ids(cat_model, data):
    X, _ = data
    with pytest.raises(ERR, match="y"):
        cat_model.loss(X, np.array([0, 1.5, 2, 0, 1, 2]))


def test_categorical_one_hot_wrong_width(cat_model, data):
    X, _ = data
    with pytest.raises(ERR, match="y") as exc:
        cat_model.loss(X, np.eye(4)[[0, 1, 2, 3, 0, 1]])
    assert _shape_in(str(exc.value), (6, 4)) or "4" in str(exc.value)


@pytest.mark.parametrize("bad", [2.0, -1.0, 1.5])
@pytest.mark.parametrize("method", ["fit", "loss", "gradients", "accuracy"])
def test_binary_label_out_of_range(bin_model, bad, method):
    X = np.zeros((4, 4))
    y = np.array([0.0, 1.0, bad, 0.0])
    with pytest.raises(ERR, match="y"):
        _methods(bin_model, X, y)[method]()


def test_binary_label_wrong_width(bin_model):
    with pytest.raises(ERR, match="y"):
        bin_model.loss(np.zeros((4, 4)), np.zeros((4, 3)))


def test_mse_target_wrong_width(reg_model):
    with pytest.raises(ERR, match="y") as exc:
        reg_model.loss(np.zeros((4, 4)), np.zeros((4, 3)))
    assert _shape_in(str(exc.value), (4, 3)) or "3" in str(exc.value)


def test_accuracy_on_regression_model_rejected(reg_model):
    with pytest.raises(ERR):
        reg_model.accuracy(np.zeros((4, 4)), np.zeros((4, 2)))


# ------------------------------------------------------------------------------------
# construction errors
# ------------------------------------------------------------------------------------
def test_unknown_activation():
    with pytest.raises(ERR, match="activation|swishy"):
        fm.Dense(3, 2, activation="swishy")


@pytest.mark.parametrize("loss", ["hinge", "cross_entropy_x", ""])
def test_unknown_loss(loss):
    with pytest.raises(ERR, match="loss"):
        fm.Sequential([fm.Dense(3, 2, activation="softmax")], loss=loss, seed=0, optimizer="sgd")


def test_loss_wrong_type():
    with pytest.raises(ERR, match="loss"):
        fm.Sequential([fm.Dense(3, 2, activation="softmax")], loss=3, seed=0, optimizer="sgd")


@pytest.mark.parametrize("n_in,n_out", [(0, 2), (2, 0), (-1, 3)])
def test_bad_layer_sizes(n_in, n_out):
    with pytest.raises(ERR, match="n_in|n_out"):
        fm.Dense(n_in, n_out)


def test_layers_that_do_not_chain():
    with pytest.raises(ValueError, match="layer|n_in|n_out") as exc:
        fm.Sequential([fm.Dense(4, 5, activation="relu"), fm.Dense(6, 2)], seed=0, optimizer="sgd")
    msg = str(exc.value)
    assert "5" in msg and "6" in msg, msg


def test_empty_layer_list():
    with pytest.raises(ERR, match="layer"):
        fm.Sequential([], seed=0, optimizer="sgd")


@pytest.mark.parametrize("out_act", ["linear", "softmax", "tanh", "relu"])
def test_bce_requires_sigmoid_output(out_act):
    with pytest.raises(ValueError, match="sigmoid|binary_crossentropy"):
        fm.Sequential(
            [fm.Dense(3, 2, activation="tanh"), fm.Dense(2, 2, activation=out_act)],
            loss="binary_crossentropy",
            seed=0,
            optimizer="sgd",
        )


@pytest.mark.parametrize("out_act", ["linear", "sigmoid", "tanh"])
def test_cce_requires_softmax_output(out_act):
    with pytest.raises(ValueError, match="softmax|categorical_crossentropy"):
        fm.Sequential([fm.Dense(3, 2, activation=out_act)], loss="categorical_crossentropy", seed=0, optimizer="sgd")


@pytest.mark.parametrize("dtype", ["float16", "int32", "complex128", "double precision"])
def test_bad_dtype(dtype):
    with pytest.raises(ERR, match="dtype"):
        fm.Sequential([fm.Dense(3, 2)], dtype=dtype, seed=0, optimizer="sgd")


# ------------------------------------------------------------------------------------
# fit hyper-parameters
# ------------------------------------------------------------------------------------
@pytest.mark.parametrize("bs", [0, -1])
def test_bad_batch_size(cat_model, data, bs):
    X, y = data
    with pytest.raises(ERR, match="batch_size"):
        cat_model.fit(X, y, epochs=1, batch_size=bs)


@pytest.mark.parametrize("lr", [0.0, -1.0])
def test_bad_learning_rate(cat_model, data, lr):
    X, y = data
    with pytest.raises(ERR, match="learning_rate"):
        cat_model.fit(X, y, epochs=1, learning_rate=lr, batch_size=None)


@pytest.mark.parametrize("epochs", [0, -3])
def test_bad_epochs(cat_model, data, epochs):
    X, y = data
    with pytest.raises(ERR, match="epochs"):
        cat_model.fit(X, y, epochs=epochs, batch_size=None)


def test_failed_fit_leaves_model_unchanged(cat_model, data):
    X, y = data
    W = cat_model.layers[0].weights.copy()
    with pytest.raises(ERR):
        cat_model.fit(X, y, epochs=1, learning_rate=-1.0, batch_size=None)
    np.testing.assert_array_equal(cat_model.layers[0].weights, W)


# ------------------------------------------------------------------------------------
# parameter assignment
# ------------------------------------------------------------------------------------
def test_weight_assignment_wrong_shape(cat_model):
    with pytest.raises(ValueError, match="weights") as exc:
        cat_model.layers[0].weights = np.zeros((5, 4))
    assert _shape_in(str(exc.value), (5, 4)) and _shape_in(str(exc.value), (4, 5)), str(exc.value)
    with pytest.raises(ValueError, match="bias"):
        cat_model.layers[0].bias = np.zeros(4)
    # nothing was overwritten
    assert cat_model.layers[0].weights.shape == (4, 5)
    assert np.any(cat_model.layers[0].weights != 0)


def test_assigned_settings_are_checked_as_the_constructors():
    """Audit: model.optimizer = "sgd" (Keras users do) made the next fit fail with "vars() argument
    must have __dict__ attribute", model.seed = "x" the next save with "invalid literal for int()",
    model.dtype = "float64" every prediction with pybind11's "incompatible function arguments"."""
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(20, 3)), np.arange(20) % 2
    model = fm.Sequential([fm.Dense(4, "relu"), fm.Dense(2, "softmax")], seed=0)
    model.fit(X, y, epochs=1)
    model.optimizer = "sgd"
    assert isinstance(model.optimizer, fm.SGD)
    model.fit(X, y, epochs=1)
    with pytest.raises(ValueError, match="optimizer must be one of"):
        model.optimizer = "bogus"
    with pytest.raises(TypeError, match="optimizer must be a string"):
        model.optimizer = 3
    with pytest.raises(TypeError, match="seed must be an integer"):
        model.seed = "x"
    assert isinstance(model.optimizer, fm.SGD) and model.seed == 0
    model.seed = 7
    for name in ("dtype", "dtype_policy"):
        with pytest.raises(AttributeError):
            setattr(model, name, "float64")
    assert model.dtype == np.float32 and model.dtype_policy == "float32"
    assert fm.Sequential.from_bytes(model.to_bytes()).seed == 7


@pytest.mark.parametrize(
    "layers, match",
    [
        (lambda: fm.Dense(3, "softmax"), "layers must be a list of layers, Sequential"),
        (lambda: [fm.Dense(3, "softmax"), "relu"], r"layers\[1\] must be a layer .*got str"),
        (lambda: [None], r"layers\[0\] must be a layer .*got NoneType"),
    ],
)
def test_something_else_than_layers_is_a_type_error_naming_it(layers, match):
    """Audit: Sequential([Dense(...), "relu"]) raised AttributeError "'str' object has no attribute
    '_output'", Sequential(Dense(...)) "'Dense' object is not iterable"."""
    with pytest.raises(TypeError, match=match):
        fm.Sequential(layers())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_first_fit_on_x_without_columns_says_x_is_empty(dtype):
    """Audit: X of shape (40, 0) in the model's dtype (used without a copy) at the first fit raised
    "n_in and n_out must be positive, got (0, 8)" from building the first layer for it."""
    model = fm.Sequential([fm.Dense(8, "relu"), fm.Dense(3, "softmax")], seed=0)
    with pytest.raises(ValueError, match=re.escape("X is empty: shape (40, 0)")):
        model.fit(np.zeros((40, 0), dtype), np.arange(40) % 3, epochs=1)
    assert not model.built and model.layers[0].n_in is None
