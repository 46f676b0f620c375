"""validation_data=(X_val, y_val, sample_weight_val), Keras's third entry: val_loss is the weighted mean
(evaluate's with sample_weight), val_accuracy counts rows; bad weights are refused before training."""

import numpy as np
import pytest

import fastmlp as fm


def _data(seed=0):
    rng = np.random.default_rng(seed)
    X, Xv = rng.normal(size=(200, 4)), rng.normal(size=(50, 4))
    return X, (X[:, 0] > 0).astype(int), Xv, (Xv[:, 0] > 0).astype(int), rng.random(50) * 3


def _model():
    return fm.Sequential([fm.Dense(4, 8, "relu"), fm.Dense(8, 2, "softmax")], dtype="float64", seed=0)


def test_val_loss_is_the_weighted_mean_and_accuracy_counts_rows():
    X, y, Xv, yv, w = _data()
    model = _model()
    history = model.fit(X, y, epochs=2, validation_data=(Xv, yv, w), verbose=0)
    loss, accuracy = model.evaluate(Xv, yv, sample_weight=w)
    np.testing.assert_allclose(history.history["val_loss"][-1], loss, rtol=1e-12)
    np.testing.assert_allclose(history.history["val_accuracy"][-1], model.evaluate(Xv, yv)[1], rtol=1e-12)
    assert not np.isclose(loss, model.evaluate(Xv, yv)[0])  # the weights matter here


def test_no_weights_is_the_pair_and_lists_work():
    X, y, Xv, yv, _ = _data()
    a, b, c = _model(), _model(), _model()
    ha = a.fit(X, y, epochs=2, validation_data=(Xv, yv), verbose=0)
    hb = b.fit(X, y, epochs=2, validation_data=(Xv, yv, None), verbose=0)
    hc = c.fit(X, y, epochs=2, validation_data=[Xv.tolist(), list(yv), [1.0] * len(yv)], verbose=0)
    assert ha.history == hb.history
    np.testing.assert_allclose(hc.history["val_loss"], ha.history["val_loss"], rtol=1e-12)


def test_weights_drive_early_stopping():
    X, y, Xv, yv, w = _data()
    model = _model()
    stop = fm.EarlyStopping(monitor="val_loss", patience=1, restore_best_weights=True)
    history = model.fit(X, y, epochs=30, validation_data=(Xv, yv, w), early_stopping=stop, verbose=0)
    assert min(history.history["val_loss"]) == pytest.approx(model.evaluate(Xv, yv, sample_weight=w)[0], rel=1e-12)


@pytest.mark.parametrize(
    "w, match",
    [(np.ones(49), r"shape \(50,\)"), (-np.ones(50), ">= 0"), (np.full(50, np.nan), "NaN"), (np.zeros(50), "sum to 0")],
)
def test_bad_weights_are_refused_before_training(w, match):
    X, y, Xv, yv, _ = _data()
    model = _model()
    model.fit(X, y, epochs=1, verbose=0)
    before = model.params.copy()
    with pytest.raises(ValueError, match=f"validation_data's sample weights: .*{match}"):
        model.fit(X, y, epochs=1, validation_data=(Xv, yv, w), verbose=0)
    np.testing.assert_array_equal(model.params, before)
    assert model.epochs_trained == 1


def test_four_entries_are_refused():
    X, y, Xv, yv, w = _data()
    with pytest.raises(TypeError, match=r"\(X_val, y_val, sample_weight_val\)"):
        _model().fit(X, y, validation_data=(Xv, yv, w, w))


def test_a_source_of_weighted_chunks_gives_the_weighted_mean():
    """Each chunk's loss counts by its weights' sum (not its rows), so chunks of different weight give
    sum_i w_i l_i / sum_i w_i over all rows; a chunk of zero weights adds its rows to the accuracy only."""
    X, y, Xv, yv, w = _data()
    w[:20] *= 10  # the first chunk weighs more than its share of rows
    model = _model()
    source = fm.data.from_arrays(Xv, yv, sample_weight=w, chunk_rows=20)
    history = model.fit(X, y, epochs=2, validation_data=source, verbose=0)
    np.testing.assert_allclose(history.history["val_loss"][-1], model.evaluate(Xv, yv, sample_weight=w)[0], rtol=1e-12)
    w[20:40] = 0
    history = model.fit(X, y, epochs=1, validation_data=fm.data.from_arrays(Xv, yv, sample_weight=w, chunk_rows=20))
    np.testing.assert_allclose(history.history["val_loss"][-1], model.evaluate(Xv, yv, sample_weight=w)[0], rtol=1e-12)
    np.testing.assert_allclose(history.history["val_accuracy"][-1], model.evaluate(Xv, yv)[1], rtol=1e-12)
