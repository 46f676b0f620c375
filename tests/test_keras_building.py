"""Keras's ways of building a model (issue 26, deliverable 5): Sequential() then add / pop,
fm.Input and input_shape=, compile before fit, activation=None, y as a one-column DataFrame or a
Series of strings."""

from __future__ import annotations

import numpy as np
import pytest

import fastmlp as fm

pd = pytest.importorskip("pandas")


def data(m=80, n=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(m, n))
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(np.int64) + (X[:, 2] > 1)
    return X, y


def listed(seed=3, **kwargs):
    return fm.Sequential(
        [fm.Dense(8, "relu", input_dim=4), fm.Dropout(0.25), fm.Dense(3, "softmax")], seed=seed, **kwargs
    )


def added(seed=3, first=None, **kwargs):
    model = fm.Sequential(seed=seed, **kwargs)
    model.add(first if first is not None else fm.Input(shape=(4,)))
    if first is None:
        model.add(fm.Dense(8, "relu"))
    model.add(fm.Dropout(0.25))
    model.add(fm.Dense(3, "softmax"))
    return model


def same_weights(a, b):
    wa, wb = a.get_weights(), b.get_weights()
    return len(wa) == len(wb) and all(np.array_equal(u, v) for u, v in zip(wa, wb))


# --- Sequential() and add ---
def test_add_then_fit_equals_the_model_built_from_a_list():
    X, y = data()
    a, b = added(), listed()
    assert a.built and same_weights(a, b)
    assert a.loss_name == b.loss_name == "categorical_crossentropy"
    ha = a.fit(X, y, epochs=5, batch_size=16)
    hb = b.fit(X, y, epochs=5, batch_size=16)
    assert ha.loss == hb.loss
    assert same_weights(a, b)
    np.testing.assert_array_equal(a.forward(X), b.forward(X))
    np.testing.assert_array_equal(a.predict(X), b.predict(X))


def test_add_without_an_input_size_builds_at_the_first_fit():
    X, y = data()
    a = fm.Sequential(seed=3)
    for layer in (fm.Dense(8, "relu"), fm.Dropout(0.25), fm.Dense(3, "softmax")):
        a.add(layer)
    assert not a.built and a.n_features_in is None
    b = fm.Sequential([fm.Dense(8, "relu"), fm.Dropout(0.25), fm.Dense(3, "softmax")], seed=3)
    a.fit(X, y, epochs=3)
    b.fit(X, y, epochs=3)
    assert a.n_features_in == 4 and same_weights(a, b)


def test_an_empty_model_says_what_to_do():
    model = fm.Sequential()
    assert len(model) == 0 and not model.built and model.layers == []
    with pytest.raises(RuntimeError, match="no layers yet.*add"):
        model.predict(np.zeros((1, 4)))
    with pytest.raises(RuntimeError, match="no layers yet"):
        model.fit(*data())
    with pytest.raises(RuntimeError, match="no layers yet"):
        model.build(4)
    assert "Total params: 0" in model.summary(print_fn=None)
    with pytest.raises(ValueError, match="empty list.*Sequential\\(\\)"):
        fm.Sequential([])  # an explicit empty list stays an error (tests/test_errors.py)


def test_a_model_waits_for_its_output_layer():
    model = fm.Sequential([fm.Input(shape=(4,))], seed=0)
    model.add(fm.Dense(8, "relu"))
    assert model.built and model.loss_name == "mse"  # a whole model at each step (Keras's)
    W = model.layers[0].weights.copy()
    model.add(fm.Dropout(0.5))
    assert not model.built and model.loss_name is None
    with pytest.raises(RuntimeError, match="last layer is a Dropout.*output layer"):
        model.predict(np.zeros((2, 4)))
    with pytest.raises(RuntimeError, match="last layer is a Dropout"):
        model.fit(*data(), epochs=1)
    model.add(fm.Dense(1, "sigmoid"))
    assert model.built and model.loss_name == "binary_crossentropy"
    np.testing.assert_array_equal(model.layers[0].weights, W)  # kept through the wait


def test_add_to_a_trained_model_keeps_its_weights():
    X, y = data()
    model = fm.Sequential([fm.Input(shape=(4,)), fm.Dense(8, "relu"), fm.Dense(3, "softmax")], seed=1)
    model.fit(X, y, epochs=3)
    before = model.get_weights()
    head = model.pop()
    assert isinstance(head, fm.Dense) and model.loss_name == "mse"
    assert same_weights(model, type(model)([fm.Dense(4, 8, "relu")], seed=1)) is False
    for w, v in zip(model.get_weights(), before[:2]):
        np.testing.assert_array_equal(w, v)
    model.add(fm.Dense(8, 4, "relu"))
    model.add(fm.Dense(3, "softmax"))
    after = model.get_weights()
    assert len(after) == 6
    for w, v in zip(after[:2], before[:2]):
        np.testing.assert_array_equal(w, v)
    model.fit(X, y, epochs=2)  # trains on, with the new layers
    assert model.predict(X).shape == (len(X),)
    other = fm.Sequential([head], seed=0)  # the popped layer is free again
    assert other.built


def test_add_checks_the_place_and_changes_nothing_on_an_error():
    model = fm.Sequential(seed=0)
    with pytest.raises(ValueError, match=r"layers\[0\]: a Dropout must follow a Dense layer"):
        model.add(fm.Dropout(0.5))
    with pytest.raises(ValueError, match=r"layers\[0\]: a BatchNormalization must follow"):
        model.add(fm.BatchNormalization())
    assert model.layers == []
    model.add(fm.Dense(4, 6, "relu"))
    with pytest.raises(ValueError, match=r"layers\[1\]: this Dense takes 5 inputs but the layer before gives 6"):
        model.add(fm.Dense(5, 2))
    used = fm.Dense(6, 2)
    fm.Sequential([used])
    with pytest.raises(ValueError, match=r"layers\[1\] already belongs to another model"):
        model.add(used)
    with pytest.raises(TypeError, match="add takes a layer"):
        model.add("relu")
    with pytest.raises(ValueError, match="an Input can only be the first"):
        model.add(fm.Input(shape=(4,)))
    assert len(model) == 1 and model.built and model.n_outputs == 6


def test_pop():
    model = fm.Sequential([fm.Dense(4, 6, "relu"), fm.Dropout(0.5), fm.Dense(2, "softmax")], seed=0)
    W = model.layers[0].weights.copy()
    model.pop()  # a Dropout cannot end a model: it waits for the next add
    assert len(model) == 2 and not model.built
    model.add(fm.Dense(5, "softmax"))
    assert model.built and model.n_outputs == 5
    np.testing.assert_array_equal(model.layers[0].weights, W)
    with pytest.raises(ValueError, match="no layers"):
        fm.Sequential().pop()
    single = fm.Sequential([fm.Dense(4, 2)], seed=0)
    single.pop()
    assert single.layers == [] and not single.built


def test_a_loss_given_first_waits_for_its_output_layer():
    model = fm.Sequential([fm.Input(shape=(4,))], loss="binary_crossentropy", seed=0)
    model.add(fm.Dense(8, "relu"))
    assert not model.built
    model.add(fm.Dense(1, "sigmoid"))
    reference = fm.Sequential([fm.Dense(4, 8, "relu"), fm.Dense(8, 1, "sigmoid")], seed=0)
    assert model.built and same_weights(model, reference)


def test_a_rebuild_the_core_refuses_changes_nothing():
    model = fm.Sequential([fm.Dense(4, 3, "relu"), fm.Dense(2)], seed=0)
    before = model.get_weights()
    model.add(fm.BatchNormalization(epsilon=1e-50))  # 0 in float32: the core refuses it when built
    head = fm.Dense(2)
    with pytest.raises(ValueError, match="epsilon"):
        model.add(head)
    assert len(model) == 3 and not model.built and head._owner is None
    model.pop()
    assert model.built and same_weights(model, model)
    for w, v in zip(model.get_weights(), before):
        np.testing.assert_array_equal(w, v)


def test_pop_and_add_with_a_loss_given():
    X, y = data()
    model = fm.Sequential([fm.Input(shape=(4,)), fm.Dense(8, "relu"), fm.Dense(1, "sigmoid")], seed=0)
    model.compile(loss="binary_crossentropy")
    model.fit(X, (y > 0).astype(float), epochs=1)
    before, out = model.get_weights(), model.forward(X)
    model.pop()
    model.add(fm.Dense(4, "relu"))  # a hidden layer: binary_crossentropy waits for a sigmoid output
    assert not model.built and model.loss_name == "binary_crossentropy"
    with pytest.raises(RuntimeError, match="does not suit its loss.*needs a sigmoid output"):
        model.fit(X, (y > 0).astype(float), epochs=1)
    model.add(fm.Dense(1, "sigmoid"))
    assert model.built
    np.testing.assert_array_equal(model.get_weights()[0], before[0])
    assert model.forward(X).shape == out.shape
    strict = fm.Sequential([fm.Dense(4, 2, "relu")], seed=0)
    strict.compile(loss="mse")
    with pytest.raises(ValueError, match="needs a softmax output"):  # a model that is built refuses at once
        fm.Sequential([fm.Dense(4, 2, "relu")], loss="categorical_crossentropy")
    with pytest.raises(ValueError, match=r"layers\[1\]: a Dropout cannot be the last layer"):
        fm.Sequential([fm.Dense(4, 2), fm.Dropout(0.1)], loss="mse")


def test_the_labels_follow_the_output_layer():
    X, ids = data()
    names = np.array(["low", "mid", "high"])[ids]
    model = listed()
    model.fit(X, names, epochs=1)
    model.pop()
    model.add(fm.Dense(3, "softmax"))  # a new head for the same three classes: they stay
    assert list(model.classes_) == ["high", "low", "mid"]
    model.pop()
    model.add(fm.Dense(4, "softmax"))  # four outputs: the next fit learns its labels
    np.testing.assert_array_equal(model.classes_, np.arange(4))


# --- fm.Input and input_shape= ---
@pytest.mark.parametrize(
    "layers",
    [
        lambda: [fm.Input(shape=(4,)), fm.Dense(8, "relu"), fm.Dense(3, "softmax")],
        lambda: [fm.Dense(8, "relu", input_shape=(4,)), fm.Dense(3, "softmax")],
        lambda: [fm.Dense(8, activation="relu", input_dim=4), fm.Dense(3, "softmax")],
    ],
)
def test_input_and_input_shape_build_at_once(layers):
    model = fm.Sequential(layers(), seed=5)
    assert model.built and model.n_features_in == 4 and model.num_params == 4 * 8 + 8 + 8 * 3 + 3
    reference = fm.Sequential([fm.Dense(4, 8, "relu"), fm.Dense(8, 3, "softmax")], seed=5)
    assert same_weights(model, reference)


def test_input_with_other_first_layers():
    emb = fm.Sequential([fm.Input(shape=(3,)), fm.Embedding(10, 2), fm.Dense(1)], seed=0)
    assert emb.built and emb.layers[0].input_length == 3 and emb.layers[1].n_in == 6
    norm = fm.Sequential([fm.Input(shape=(2,)), fm.Normalization(), fm.Dense(1)], seed=0)
    assert norm.built and norm.layers[0].n_in == 2


def test_input_errors():
    with pytest.raises(ValueError, match=r"shape must be \(n_features,\)"):
        fm.Input(shape=(4, 2))
    with pytest.raises(TypeError, match="shape must be a tuple"):
        fm.Input(shape="4")
    with pytest.raises(ValueError, match="n_features >= 1"):
        fm.Input(shape=(0,))
    with pytest.raises(ValueError, match=r"layers\[0\]: this Dense takes 5 inputs but the layer before gives 4"):
        fm.Sequential([fm.Input(shape=(4,)), fm.Dense(5, 2)])
    with pytest.raises(ValueError, match="an Input can only be the first"):
        fm.Sequential([fm.Dense(2, "relu"), fm.Input(shape=(4,)), fm.Dense(1)])
    with pytest.raises(TypeError, match="input_dim or input_shape, not both"):
        fm.Dense(8, input_dim=4, input_shape=(4,))
    with pytest.raises(ValueError, match=r"input_shape must be \(n_features,\)"):
        fm.Dense(8, input_shape=(4, 4))
    assert repr(fm.Input(shape=(4,))) == "Input(shape=(4,))"


def test_input_model_saves_and_loads(tmp_path):
    X, y = data()
    model = added()
    model.fit(X, y, epochs=2)
    path = tmp_path / "m.safetensors"
    model.save(path)
    back = fm.load(path)
    assert same_weights(model, back) and back.loss_name == model.loss_name
    np.testing.assert_array_equal(back.predict(X), model.predict(X))
    clone = fm.Sequential.from_bytes(model.to_bytes())
    np.testing.assert_array_equal(clone.forward(X), model.forward(X))


# --- compile ---
def test_compile_then_fit_equals_the_constructor_arguments():
    X, y = data()
    a = fm.Sequential([fm.Dense(8, "relu", input_shape=(4,)), fm.Dense(3, "softmax")], seed=2)
    a.compile(optimizer=fm.SGD(learning_rate=0.05), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    b = fm.Sequential(
        [fm.Dense(8, "relu", input_dim=4), fm.Dense(3, "softmax")],
        seed=2,
        optimizer=fm.SGD(learning_rate=0.05),
        loss="categorical_crossentropy",
    )
    assert a.compiled_metrics == ("accuracy",)
    ha, hb = a.fit(X, y, epochs=4), b.fit(X, y, epochs=4)
    assert ha.history == hb.history and "accuracy" in ha.history
    assert same_weights(a, b)


def test_compile_overrides_the_constructor():
    X, y = data()
    model = fm.Sequential([fm.Dense(4, 1)], seed=0, optimizer="adam", loss="mse")
    W = model.get_weights()
    model.compile(optimizer="sgd", loss="mae", metrics=["mae"])
    assert isinstance(model.optimizer, fm.SGD) and model.loss_name == "mae"
    assert same_weights(model, model) and all(np.array_equal(u, v) for u, v in zip(W, model.get_weights()))
    model.fit(X, y.astype(float), epochs=1)
    model.compile(metrics=["loss"])  # None keeps the optimizer and the loss
    assert isinstance(model.optimizer, fm.SGD) and model.loss_name == "mae"


def test_compile_on_an_empty_model_gives_the_loss_of_the_layers_to_come():
    model = fm.Sequential(seed=0)
    model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["acc"])
    model.add(fm.Dense(4, 1, "sigmoid"))
    assert model.loss_name == "binary_crossentropy" and isinstance(model.optimizer, fm.RMSprop)
    assert model.compiled_metrics == ("accuracy",)


def test_compile_errors_change_nothing():
    model = fm.Sequential([fm.Dense(4, 3, "softmax")], seed=0, optimizer="sgd")
    with pytest.raises(ValueError, match="unsupported metric 'auc'.*'accuracy', 'acc', 'categorical_crossentropy'"):
        model.compile(optimizer="adam", metrics=["auc"])
    with pytest.raises(ValueError, match="unsupported metric 'mse'"):
        model.compile(metrics=["mse"])
    with pytest.raises(ValueError, match="loss must be one of"):
        model.compile(loss="hinge")
    with pytest.raises(TypeError, match="metrics must be a list"):
        model.compile(metrics="accuracy")
    with pytest.raises(ValueError, match="needs a sigmoid output"):
        model.compile(optimizer="adam", loss="binary_crossentropy")
    assert model.built
    assert isinstance(model.optimizer, fm.SGD) and model.loss_name == "categorical_crossentropy"
    regression = fm.Sequential([fm.Dense(4, 1)], seed=0)
    with pytest.raises(ValueError, match="'accuracy' needs a classification loss"):
        regression.compile(metrics=["accuracy"])


# --- activation=None ---
def test_activation_none_is_linear():
    assert fm.Dense(3, activation=None).activation == "linear"
    assert fm.Dense(2, 3, None).activation == "linear"
    assert fm.Activation(None).activation == "linear"
    a = fm.Sequential([fm.Dense(4, 2, activation=None)], seed=0)
    b = fm.Sequential([fm.Dense(4, 2)], seed=0)
    X, _ = data()
    np.testing.assert_array_equal(a.forward(X), b.forward(X))
    assert a.loss_name == "mse"


# --- y as a one-column DataFrame or a Series of strings ---
@pytest.mark.parametrize(
    "wrap", [lambda y: pd.Series(y), lambda y: pd.DataFrame({"label": y}), lambda y: pd.Series(y, dtype="string")]
)
def test_y_as_a_series_or_one_column_frame_of_strings(wrap):
    X, ids = data()
    names = np.array(["low", "mid", "high"])[ids]
    a, b = listed(), listed()
    ha = a.fit(X, names, epochs=3, validation_split=0.25)
    hb = b.fit(X, wrap(names), epochs=3, validation_split=0.25)
    assert ha.history == hb.history
    np.testing.assert_array_equal(a.classes_, b.classes_)
    np.testing.assert_array_equal(a.predict(X), b.predict(X))
    assert same_weights(a, b)
    assert b.evaluate(X, wrap(names)) == a.evaluate(X, names)


def test_y_as_a_one_column_frame_of_ids_and_values():
    X, ids = data()
    a, b = listed(), listed()
    a.fit(X, ids, epochs=2)
    b.fit(X, pd.DataFrame({"y": ids}), epochs=2)
    assert same_weights(a, b)
    r1 = fm.Sequential([fm.Dense(4, 1)], seed=0)
    r2 = fm.Sequential([fm.Dense(4, 1)], seed=0)
    r1.fit(X, X[:, 0], epochs=2)
    r2.fit(X, pd.DataFrame({"t": X[:, 0]}), epochs=2)
    assert same_weights(r1, r2)


def test_the_getting_started_example_runs():
    """docs/getting_started.md's Keras-style block, as it is written (digits data as the page's)."""
    from pathlib import Path

    from sklearn.datasets import load_digits

    text = (Path(__file__).resolve().parents[1] / "docs" / "getting_started.md").read_text()
    section = text.split("## Keras's way of building a model")[1]
    code = section.split("```python\n")[1].split("```")[0]
    X, y = load_digits(return_X_y=True)
    scope = {"fm": fm, "X": X[:200] / 16.0, "y": y[:200]}
    exec(code, scope)
    model = scope["model"]
    assert model.built and len(model) == 3 and model.compiled_metrics == ("accuracy",)
    assert model.epochs_trained == 10 and model.predict(X[:5] / 16.0).shape == (5,)


def test_an_unfinished_model_shows_itself():
    model = fm.Sequential()
    assert "loss=None" in repr(model) and "<table" in model._repr_html_()
    model.add(fm.Dense(3))
    model.add(fm.Dropout(0.1))
    assert "Dropout" in model._repr_html_() and "Dropout 0.1" in model.summary(print_fn=None)
    with pytest.raises(RuntimeError, match="last layer is a Dropout"):
        model.to_bytes()
