"""A fit that fails changes nothing (issue 28): column names, classes, the built network and its
input size, the optimizer and its state, the epoch count are recorded only by a fit that goes
ahead. Each kind of state is checked after calls refused by Python's checks (a NaN target, a
bad option) and by the C++ loop's own checks before its first step (NaN in X or X_val,
reduce_on_plateau on val_loss without validation data)."""

import numpy as np
import pandas as pd
import pytest

import fastmlp as fm


def _data(m=40, d=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(m, d))
    y = (X[:, 0] > 0).astype(np.int64) + (X[:, 1] > 0)
    return X, y


def _unbuilt(seed=0, optimizer="adam"):
    return fm.Sequential([fm.Dense(5, "relu"), fm.Dense(3, "softmax")], seed=seed, optimizer=optimizer)


def _with_nan(X):
    X = X.copy()
    X[3, 1] = np.nan
    return X


def _nan_target(y):
    y = np.asarray(y, dtype=object if np.asarray(y).dtype.kind in "OUS" else np.float64).copy()
    y[2] = np.nan
    return y


# Each refused call: a function of (model, X, y, **more fit arguments) that raises ValueError.
REFUSED = {
    "NaN in y (Python)": lambda m, X, y, **kw: m.fit(X, _nan_target(y), epochs=1, **kw),
    "epochs=0 (Python)": lambda m, X, y, **kw: m.fit(X, y, epochs=0, **kw),
    "early stopping without validation data (Python)": lambda m, X, y, **kw: m.fit(
        X, y, epochs=2, early_stopping=fm.EarlyStopping(monitor="val_loss"), **kw
    ),
    "NaN in X (C++ loop)": lambda m, X, y, **kw: m.fit(_with_nan(X), y, epochs=1, **kw),
    "NaN in X_val (C++ loop)": lambda m, X, y, **kw: m.fit(X, y, epochs=1, validation_data=(_with_nan(X), y), **kw),
    "reduce_on_plateau on val_loss without validation data (C++ loop)": lambda m, X, y, **kw: m.fit(
        X, y, epochs=2, schedule=fm.schedules.ReduceOnPlateau(monitor="val_loss"), **kw
    ),
}


@pytest.mark.parametrize("refuse", REFUSED.values(), ids=REFUSED.keys())
def test_a_refused_first_fit_leaves_the_model_unbuilt(refuse):
    X, y = _data()
    model = _unbuilt()
    with pytest.raises(ValueError):
        refuse(model, X, y)
    assert not model.built and model.n_features_in is None and model.layers[0].n_in is None
    assert "not built" in model.summary(print_fn=None)
    with pytest.raises(RuntimeError, match="no parameters"):
        model.layers[0].weights  # noqa: B018 (the layer is bound to no network)
    # ... so data of another width is welcome, and the model equals a fresh one fitted on it
    X6, y6 = _data(d=6, seed=1)
    model.fit(X6, y6, epochs=2)
    fresh = _unbuilt()
    fresh.fit(X6, y6, epochs=2)
    assert model.n_features_in == 6
    np.testing.assert_array_equal(model.params, fresh.params)


def test_a_refused_fit_on_a_dataframe_keeps_no_column_names():
    X, y = _data()
    df = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    model = _unbuilt()
    y_nan = y.astype(np.float64)
    y_nan[5] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        model.fit(df, y_nan, epochs=1)  # the example: a NaN in the target
    assert model.feature_names_in_ is None and not model.built
    with pytest.raises(ValueError):
        model.fit(pd.DataFrame(_with_nan(X), columns=["a", "b", "c", "d"]), y, epochs=1)  # NaN in X: the loop
    assert model.feature_names_in_ is None
    other = pd.DataFrame(X, columns=["p", "q", "r", "s"])
    model.fit(other, y, epochs=1)  # other columns are welcome: no fit went ahead before
    assert list(model.feature_names_in_) == ["p", "q", "r", "s"]


def test_a_refused_fit_of_a_built_model_keeps_no_column_names():
    X, y = _data()
    model = fm.Sequential([fm.Dense(4, 5, "relu"), fm.Dense(5, 3, "softmax")], seed=0)
    with pytest.raises(ValueError):
        model.fit(pd.DataFrame(_with_nan(X), columns=list("abcd")), y, epochs=1)
    assert model.feature_names_in_ is None
    model.fit(pd.DataFrame(X, columns=list("wxyz")), y, epochs=1)
    assert list(model.feature_names_in_) == list("wxyz")


@pytest.mark.parametrize("refuse", REFUSED.values(), ids=REFUSED.keys())
def test_a_refused_fit_learns_no_classes(refuse):
    X, y = _data()
    labels = np.array(["cat", "dog", "emu"])[y]
    model = _unbuilt()
    with pytest.raises(ValueError):
        refuse(model, X, labels)
    np.testing.assert_array_equal(model.classes_, [0, 1, 2])
    # class ids still mean classes 0, 1, 2 (a model that had kept the labels would predict them)
    model.fit(X, y, epochs=1)
    assert model.predict(X[:3]).dtype.kind == "i"
    np.testing.assert_array_equal(model.classes_, [0, 1, 2])


def test_a_refused_fit_with_string_labels_learns_no_classes():
    X, y = _data()
    labels = np.array(["cat", "dog", "emu"])[y]
    model = _unbuilt()
    with pytest.raises(ValueError):
        model.fit(_with_nan(X), labels, epochs=1)
    with pytest.raises(ValueError):
        model.fit(X, labels, epochs=0)
    np.testing.assert_array_equal(model.classes_, [0, 1, 2])
    model.fit(X, labels, epochs=1)
    np.testing.assert_array_equal(model.classes_, ["cat", "dog", "emu"])


@pytest.mark.parametrize("refuse", REFUSED.values(), ids=REFUSED.keys())
def test_a_refused_fit_keeps_the_optimizer_and_its_state(refuse):
    X, y = _data()
    model, twin = _unbuilt(), _unbuilt()
    for m in (model, twin):
        m.fit(X, y, epochs=2)  # Adam now has moments and a step count
    adam = model.optimizer
    with pytest.raises(ValueError):  # a new optimizer and learning rate with it: neither may stick
        refuse(model, X, y, optimizer=fm.SGD(learning_rate=0.5), learning_rate=0.25)
    assert model.optimizer is adam and model.optimizer.learning_rate == pytest.approx(1e-3)
    # the state is the one before the call: training goes on exactly as the twin's
    model.fit(X, y, epochs=2)
    twin.fit(X, y, epochs=2)
    np.testing.assert_array_equal(model.params, twin.params)


@pytest.mark.parametrize("refuse", REFUSED.values(), ids=REFUSED.keys())
def test_a_refused_fit_counts_no_epochs(refuse):
    X, y = _data()
    model, twin = _unbuilt(), _unbuilt()
    for m in (model, twin):
        m.fit(X, y, epochs=3)
    with pytest.raises(ValueError):
        refuse(model, X, y, learning_rate=0.5)
    assert model.epochs_trained == 3
    model.fit(X, y, epochs=1)  # the default shuffling seed (seed + epochs_trained) as the twin's
    twin.fit(X, y, epochs=1)
    np.testing.assert_array_equal(model.params, twin.params)
    assert model.epochs_trained == twin.epochs_trained == 4


def test_a_refused_fit_keeps_the_weights_and_the_data_parallel_comm():
    X, y = _data()
    model = _unbuilt()
    model.fit(X, y, epochs=1)
    before = model.params.copy()
    for refuse in REFUSED.values():
        with pytest.raises(ValueError):
            refuse(model, X, y)
    np.testing.assert_array_equal(model.params, before)
    assert model._comm is None and not model.stop_training


def test_training_that_ran_is_kept_when_it_fails_later():
    """Not a refused call: a callback that raises after an epoch leaves the trained weights and the
    built network (as a Ctrl-C or a divergence does); only a call refused before the first step is
    undone."""
    X, y = _data()
    model = _unbuilt()

    def boom(epoch, logs):
        raise RuntimeError("stop here")

    with pytest.raises(RuntimeError, match="stop here"):
        model.fit(pd.DataFrame(X, columns=list("abcd")), y, epochs=3, callback=boom)
    assert model.built and list(model.feature_names_in_) == list("abcd")


def test_a_first_fit_the_cpp_core_refuses_leaves_the_layers_unsized():
    """Audit: a network the C++ core refuses at the first fit (an epsilon that is 0 in float32) left
    the layers' input sizes set (Dense(4, 5), n_features_in 4) on an unbuilt model."""
    X, y = _data()
    model = fm.Sequential([fm.Dense(5, "relu"), fm.BatchNormalization(epsilon=1e-50), fm.Dense(3, "softmax")], seed=0)
    with pytest.raises(ValueError, match="epsilon"):
        model.fit(X, y, epochs=1)
    assert not model.built and model.n_features_in is None and model.layers[0].n_in is None
    assert repr(model.layers[0]) == repr(fm.Dense(5, "relu"))


@pytest.mark.parametrize("where", ["on_epoch_end", "on_train_end", "KeyboardInterrupt"])
def test_epochs_that_ran_before_a_callback_raised_are_counted(where):
    """Audit: a callback raising after epochs had trained the model left epochs_trained as before
    the fit (the next fit replayed the same shuffling seeds and schedule steps); Ctrl-C and a
    divergence counted them. Now the epochs that ended count, as the weights they trained stay."""
    X, y = _data()
    model = _unbuilt()
    model.fit(X, y, epochs=2)
    error = KeyboardInterrupt if where == "KeyboardInterrupt" else RuntimeError

    class Raise(fm.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if where != "on_train_end" and epoch == 1:
                raise error("stop here")

        def on_train_end(self, logs=None):
            if where == "on_train_end":
                raise error("stop here")

    with pytest.raises(error, match="stop here"):
        model.fit(X, y, epochs=3, callbacks=[Raise()])
    assert model.epochs_trained == 2 + (3 if where == "on_train_end" else 2)
