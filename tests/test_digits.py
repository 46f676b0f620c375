"""10-class softmax classifier on real data: scikit-learn's 8x8 digits (0-9).

64 - 128 (relu) - 10 (softmax), plain mini-batch SGD, lr 0.1, batch 32, 300 epochs.
On this split the configuration reached >= 0.9711 test accuracy for 19 of 20 seeds
(mean 0.974, worst 0.9689) when it was chosen, so seed 0 passes with a margin of
a few samples. Takes about 0.5 s.
"""

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import fastmlp as fm


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    return train_test_split(X, y, test_size=0.25, random_state=0)


def test_digits_softmax_mlp_reaches_97_percent(digits):
    Xtr, Xte, ytr, yte = digits
    assert Xtr.shape == (1347, 64) and Xte.shape == (450, 64)
    model = fm.Sequential(
        [fm.Dense(64, 128, activation="relu"), fm.Dense(128, 10, activation="softmax")], seed=0, optimizer="sgd"
    )
    assert model.loss_name == "categorical_crossentropy"
    acc0 = model.accuracy(Xte, yte)
    hist = model.fit(Xtr, ytr, epochs=300, batch_size=32, learning_rate=0.1, seed=0)
    assert hist.epochs == 300
    assert hist.loss[-1] < 0.01 < hist.loss[0]
    assert model.accuracy(Xtr, ytr) == 1.0
    acc = model.accuracy(Xte, yte)
    assert acc >= 0.97, f"test accuracy {acc:.4f} (before training {acc0:.4f})"
    pred = model.predict(Xte)
    assert pred.shape == (450,) and set(np.unique(pred)) == set(range(10))
    assert np.mean(pred == yte) == pytest.approx(acc)
