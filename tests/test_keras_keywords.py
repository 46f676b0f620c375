"""Keras's predict / predict_proba / evaluate keywords: batch_size and verbose (a user's complaint:
both were TypeErrors). batch_size bounds the rows that go through at once; the results are those of
one call (predictions bit for bit, the loss up to rounding)."""

import numpy as np
import pytest

import fastmlp as fm
from fastmlp import _arrays

rng = np.random.default_rng(0)
X = rng.normal(size=(1003, 12))  # 1003 rows: no batch size below divides them
y = rng.integers(0, 3, 1003)
BATCH_SIZES = [1, 7, 32, 64, 100, 333, 1002, 1003, 5000]


def _classifier(dtype="float32"):
    model = fm.Sequential(
        [fm.Dense(48, "tanh"), fm.BatchNormalization(), fm.Dense(32, "relu"), fm.Dense(3, "softmax")],
        seed=0,
        dtype=dtype,
    )
    model.fit(X, y, epochs=2, verbose=0)
    return model


def _regressor(dtype="float32"):
    model = fm.Sequential([fm.Dense(40, "gelu"), fm.Dense(2)], seed=0, dtype=dtype)
    model.fit(X, rng.normal(size=(1003, 2)), epochs=1, verbose=0)
    return model


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_predict_with_a_batch_size_gives_the_numbers_of_one_call(dtype):
    model = _classifier(dtype)
    a, labels, p = model.forward(X), model.predict(X), model.predict_proba(X)
    for batch_size in BATCH_SIZES:
        np.testing.assert_array_equal(model.forward(X, batch_size=batch_size), a)
        np.testing.assert_array_equal(model.predict(X, batch_size=batch_size, verbose=0), labels)
        np.testing.assert_array_equal(model.predict_proba(X, batch_size=batch_size, verbose=1), p)
    reg = _regressor(dtype)
    out = reg.predict(X)
    for batch_size in BATCH_SIZES:
        np.testing.assert_array_equal(reg.predict(X, batch_size=batch_size, verbose="auto"), out)


@pytest.mark.parametrize("rows", [1, 5, 63, 65, 130, 257])
def test_row_counts_around_the_batches(rows):
    model = _regressor()
    for batch_size in (1, 16, 64, 65, 128):
        np.testing.assert_array_equal(model.predict(X[:rows], batch_size=batch_size), model.predict(X[:rows]))


def test_a_batch_size_bounds_the_rows_per_call():
    """At most max(batch_size, MIN_BATCH_ROWS) rows reach the core in one call, in few calls."""
    model = _regressor()
    seen = []
    engine = model._engine

    class Spy:
        def forward(self, X):
            seen.append(X.shape[0])
            return engine.forward(X)

    batched = _arrays.InBatches(Spy(), 100, model.n_outputs)
    np.testing.assert_array_equal(batched.forward(model._X(X)), model.forward(X))
    assert max(seen) <= 100 and len(seen) == 11  # 96 rows a batch (a multiple of 16): ceil(1003 / 96)
    seen.clear()
    _arrays.InBatches(Spy(), 1, model.n_outputs).forward(model._X(X))
    assert max(seen) == _arrays.MIN_BATCH_ROWS


def test_evaluate_with_a_batch_size():
    model = _classifier()
    w = rng.uniform(0, 2, 1003)
    w[:200] = 0.0  # whole batches of weight 0 add nothing
    loss, accuracy = model.evaluate(X, y)
    weighted = model.evaluate(X, y, sample_weight=w, return_dict=True)
    for batch_size in BATCH_SIZES:
        b_loss, b_accuracy = model.evaluate(X, y, batch_size=batch_size, verbose=0)
        assert b_accuracy == accuracy
        assert b_loss == pytest.approx(loss, rel=1e-6)
        got = model.evaluate(X, y, sample_weight=w, return_dict=True, batch_size=batch_size)
        assert got["accuracy"] == weighted["accuracy"] and got["loss"] == pytest.approx(weighted["loss"], rel=1e-6)
    reg = _regressor("float64")
    Y = rng.normal(size=(1003, 2))
    assert reg.evaluate(X, Y, batch_size=100) == pytest.approx(reg.evaluate(X, Y), rel=1e-12)


def test_a_data_source_with_a_batch_size():
    model = _classifier()
    source = fm.data.from_arrays(X, y, chunk_rows=500)
    np.testing.assert_array_equal(model.predict(source, batch_size=64), model.predict(X))
    assert model.evaluate(source, batch_size=64)[1] == model.evaluate(X, y)[1]


def test_verbose_of_evaluate_prints_the_result_once(capsys):
    model = _classifier()
    loss, accuracy = model.evaluate(X, y, verbose=0)
    assert capsys.readouterr().out == ""
    for verbose in (1, 2, "auto", True):
        model.evaluate(X, y, verbose=verbose)
        assert capsys.readouterr().out == f"loss {loss:.4g}  accuracy {accuracy:.4f}\n"
    model.predict(X, verbose=1)
    assert capsys.readouterr() == ("", "")  # predict shows nothing


@pytest.mark.parametrize("call", ["predict", "predict_proba", "evaluate", "forward"])
def test_a_bad_batch_size_names_it(call):
    model = _classifier()
    args = (X, y) if call == "evaluate" else (X,)
    for bad, error in ((0, ValueError), (-5, ValueError), (2.5, TypeError), ("32", TypeError), (True, TypeError)):
        with pytest.raises(error, match="batch_size"):
            getattr(model, call)(*args, batch_size=bad)


@pytest.mark.parametrize("call", ["predict", "predict_proba", "evaluate"])
def test_a_bad_verbose_names_it(call):
    model = _classifier()
    args = (X, y) if call == "evaluate" else (X,)
    for bad in (3, -1, "loud", 1.0):
        with pytest.raises(ValueError, match="verbose must be 0, 1 or 2"):
            getattr(model, call)(*args, verbose=bad)


def test_fit_takes_keras_verbose_auto(capsys):
    fm.Sequential([fm.Dense(3, "softmax")], seed=0).fit(X, y, epochs=1, verbose="auto")
    assert "epoch 1/1" in capsys.readouterr().out
