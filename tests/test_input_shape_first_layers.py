"""Keras's ``input_shape=(n,)`` on any first layer: fm.Embedding (as input_length=n) and
fm.Normalization (n columns) take it as fm.Dense does, with the same checks."""

import numpy as np
import pytest

import fastmlp as fm


def test_embedding_and_normalization_take_input_shape():
    emb = fm.Sequential([fm.Embedding(10, 2, input_shape=(3,)), fm.Dense(1)], seed=0)
    same = fm.Sequential([fm.Input(shape=(3,)), fm.Embedding(10, 2), fm.Dense(1)], seed=0)
    assert emb.built and emb.layers[0].input_length == 3 and emb.layers[1].n_in == 6
    codes = np.array([[0, 9, 4], [1, 1, 2]], dtype=np.float32)
    np.testing.assert_array_equal(emb.forward(codes), same.forward(codes))

    norm = fm.Sequential([fm.Normalization(input_shape=(2,)), fm.Dense(1)], seed=0)
    assert norm.built and norm.n_features_in == 2 and norm.layers[0].n_in == 2
    given = fm.Normalization(mean=[1.0, 2.0], variance=[4.0, 1.0], input_shape=(2,))
    assert given.n_in == 2
    scalar = fm.Sequential([fm.Normalization(mean=1.0, variance=4.0, input_shape=(3,)), fm.Dense(1)], seed=0)
    assert scalar.built and scalar.n_features_in == 3


def test_adapt_then_fit_with_input_shape():
    X = np.random.default_rng(0).normal(loc=10.0, scale=4.0, size=(50, 3))
    norm = fm.Normalization(input_shape=(3,))
    norm.adapt(X)
    model = fm.Sequential([norm, fm.Dense(4, "tanh"), fm.Dense(1)], seed=1)
    model.fit(X, X[:, 0], epochs=2, verbose=0)
    np.testing.assert_allclose(model.layers[0].mean, X.mean(axis=0), rtol=1e-6)


@pytest.mark.parametrize(
    "make, error, message",
    [
        (
            lambda: fm.Embedding(10, 2, input_length=3, input_shape=(3,)),
            TypeError,
            "input_length or input_shape, not both",
        ),
        (lambda: fm.Embedding(10, 2, input_shape=(3, 2)), ValueError, r"input_shape must be \(n_features,\)"),
        (lambda: fm.Embedding(10, 2, input_shape="3"), TypeError, "input_shape must be a tuple"),
        (lambda: fm.Normalization(input_shape=(0,)), ValueError, "n_features >= 1"),
        (lambda: fm.Normalization(input_shape=(2, 2)), ValueError, r"input_shape must be \(n_features,\)"),
        (lambda: fm.Normalization(mean=[0.0, 1.0], variance=[1.0, 1.0], input_shape=(3,)), ValueError, "hold 2 values"),
        (lambda: fm.Normalization(input_shape=(2,)).adapt(np.ones((4, 3))), ValueError, r"input_shape=\(2,\)"),
    ],
)
def test_input_shape_errors(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_a_model_with_a_layer_before_refuses_a_wrong_width():
    with pytest.raises(ValueError, match="layers"):
        fm.Sequential([fm.Input(shape=(4,)), fm.Normalization(input_shape=(3,)), fm.Dense(1)])
