"""A model from a file, bytes, a pickle or ``copy()`` is built on as a fresh one: after ``pop()`` and
``add(new output layer)`` its loss follows the new output layer when it was the one the old output
implied, and stays when it was another (given) one."""

import pickle

import numpy as np
import pytest

import fastmlp as fm

ROUTES = {
    "file": lambda m, tmp: (m.save(tmp / "m.safetensors"), fm.load(tmp / "m.safetensors"))[1],
    "bytes": lambda m, tmp: fm.Sequential.from_bytes(m.to_bytes()),
    "pickle": lambda m, tmp: pickle.loads(pickle.dumps(m)),
    "copy": lambda m, tmp: m.copy(),
}


@pytest.mark.parametrize("route", ROUTES)
def test_an_inferred_loss_follows_the_new_output_layer(route, tmp_path):
    X = np.random.default_rng(0).normal(size=(40, 4))
    y = X @ [1.0, -2.0, 0.5, 0.0]
    fresh = fm.Sequential([fm.Dense(4, 8, "relu"), fm.Dense(3, "softmax")], seed=0)
    again = ROUTES[route](fresh, tmp_path)
    assert again.loss_name == "categorical_crossentropy"
    for model in (fresh, again):
        model.pop()
        model.add(fm.Dense(1, "linear"))
        assert model.built and model.loss_name == "mse"
    np.testing.assert_array_equal(again.layers[0].weights, fresh.layers[0].weights)  # kept
    again.fit(X, y, epochs=2, verbose=0)  # a regression model now
    again.pop()
    again.add(fm.Dense(1, "sigmoid"))
    assert again.loss_name == "binary_crossentropy"


@pytest.mark.parametrize("route", ROUTES)
def test_a_given_loss_stays(route, tmp_path):
    fresh = fm.Sequential([fm.Dense(4, 8, "relu"), fm.Dense(1, "sigmoid")], loss="mse", seed=0)
    again = ROUTES[route](fresh, tmp_path)
    for model in (fresh, again):
        model.pop()
        model.add(fm.Dense(1, "tanh"))
        assert model.built and model.loss_name == "mse"


def test_a_loaded_classifier_keeps_its_loss_until_its_output_changes(tmp_path):
    X = np.random.default_rng(1).normal(size=(30, 4))
    model = fm.Sequential([fm.Dense(4, 8, "relu"), fm.Dense(2, "softmax")], seed=0)
    model.fit(X, np.where(X[:, 0] > 0, "a", "b"), epochs=2, verbose=0)
    model.save(tmp_path / "m.safetensors")
    loaded = fm.load(tmp_path / "m.safetensors")
    assert loaded.loss_name == "categorical_crossentropy" and loaded.classes_.tolist() == ["a", "b"]
    loaded.add(fm.Activation("softmax"))  # a new output layer of the same kind: the same loss
    assert loaded.loss_name == "categorical_crossentropy"
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
