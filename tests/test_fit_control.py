"""Issue 4: validation and early stopping. Epoch callbacks, the progress bar and Ctrl-C:
test_fit_control_callbacks.py; divergence, gradient-norm recording and the vanishing-gradient
warning: test_fit_control_divergence.py."""

import numpy as np
import pytest

import fastmlp as fm
from helpers_training import ParamRecorder, _clf, blobs, dense_model, regression, simulate_early_stopping


def _diverging_validation(seed=5, m=30):
    """Training targets y = x w; validation targets y = -x w: past the first epochs val_loss grows."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(m, 2))
    Xv = rng.normal(size=(10, 2))
    w = np.array([1.0, -2.0])
    return X, X @ w, Xv, -(Xv @ w)


# ============================================================================= validation
def test_val_loss_equals_model_loss_after_each_epoch():
    X, y = blobs(m=40, seed=1)
    Xv, yv = blobs(m=15, seed=2)
    model = _clf(seed=1)
    after = []

    def cb(epoch, logs):
        after.append((model.loss(Xv, yv), model.accuracy(Xv, yv), logs["val_loss"], logs["val_accuracy"]))

    h = model.fit(X, y, epochs=6, batch_size=8, learning_rate=0.3, validation_data=(Xv, yv), callback=cb)
    assert len(after) == 6
    for (loss, acc, vl, va), hl, ha in zip(after, h.history["val_loss"], h.history["val_accuracy"]):
        assert vl == pytest.approx(loss, rel=1e-12) and hl == vl
        assert va == acc and ha == va
    assert h.history["val_loss"][-1] == pytest.approx(model.loss(Xv, yv), rel=1e-12)
    assert h.history["val_accuracy"][-1] == model.accuracy(Xv, yv)
    assert len(set(h.history["val_loss"])) == 6  # it changes with training


def test_val_loss_float32_and_labels_formats():
    X, y = blobs(m=30, seed=3)
    Xv, yv = blobs(m=12, seed=4)
    model = _clf(seed=2, dtype="float32")
    h = model.fit(X, y, epochs=3, learning_rate=0.3, validation_data=(Xv, np.eye(3)[yv]), batch_size=None)
    assert h.history["val_loss"][-1] == pytest.approx(model.loss(Xv, yv), rel=1e-5)
    assert h.history["val_accuracy"][-1] == model.accuracy(Xv, yv)


def test_validation_split_holds_out_seeded_stratified_rows():
    """validation_split holds out _split_rows's rows (seeded by the model's seed, stratified by class)."""
    from fastmlp.model import _split_rows

    X, y = blobs(m=40, seed=5)
    model = _clf(seed=3)
    first = model.copy()
    tr, va = _split_rows(y, 40, 0.25, model.seed)
    assert len(va) == 10 and set(tr) | set(va) == set(range(40))
    h = model.fit(X, y, epochs=3, learning_rate=0.2, shuffle=False, validation_split=0.25, batch_size=None)
    # the first full-batch loss is J of the initial model on the training rows
    assert h.loss[0] == pytest.approx(first.loss(X[tr], y[tr]), rel=1e-12)
    assert h.history["accuracy"][0] == first.accuracy(X[tr], y[tr])
    assert h.history["val_loss"][-1] == pytest.approx(model.loss(X[va], y[va]), rel=1e-12)
    assert h.history["val_accuracy"][-1] == model.accuracy(X[va], y[va])
    # and training used exactly those rows
    other = first.copy()
    other.fit(X[tr], y[tr], epochs=3, learning_rate=0.2, shuffle=False, batch_size=None)
    np.testing.assert_array_equal(other.params, model.params)


def test_validation_split_keeps_held_out_rows_out():
    """Whatever the shuffling, the held-out rows never reach training: poison them, training is unaffected."""
    from fastmlp.model import _split_rows

    X, y = blobs(m=40, seed=6)
    _, va = _split_rows(y, 40, 0.2, 11)
    Xp = X.copy()
    Xp[va] *= 100.0
    a, b = _clf(seed=4), _clf(seed=4)
    ha = a.fit(X, y, epochs=3, batch_size=5, learning_rate=0.2, validation_split=0.2, seed=11)
    hb = b.fit(Xp, y, epochs=3, batch_size=5, learning_rate=0.2, validation_split=0.2, seed=11)
    np.testing.assert_array_equal(a.params, b.params)
    assert ha.loss == hb.loss
    assert ha.history["val_loss"] != hb.history["val_loss"]


def test_validation_split_rounding_and_errors():
    from fastmlp.model import _split_rows

    X, y = regression(m=10, d=3, seed=7)
    model = dense_model([3, 1], ["linear"], seed=5)
    first = model.copy()
    tr, va = _split_rows(None, 10, 0.26, model.seed)
    assert len(va) == 3  # round(2.6) = 3 held out
    h = model.fit(X, y, epochs=1, validation_split=0.26, shuffle=False, batch_size=None)
    assert h.loss[0] == pytest.approx(first.loss(X[tr], y[tr]), rel=1e-12)
    for bad in (1.0, 1.5, -0.1, 0.01):
        with pytest.raises(ValueError):
            model.fit(X, y, epochs=1, validation_split=bad, batch_size=None)


def test_validation_data_checked():
    X, y = blobs(m=20, seed=8)
    model = _clf(seed=5)
    with pytest.raises(ValueError):
        model.fit(X, y, epochs=1, validation_data=(X[:, :2], y), batch_size=None)
    with pytest.raises(ValueError):
        model.fit(X, y, epochs=1, validation_data=(X, y[:5]), batch_size=None)
    with pytest.raises(TypeError):
        model.fit(X, y, epochs=1, validation_data=X, batch_size=None)


def test_history_keys_classifier_and_regressor():
    X, y = blobs(m=20, seed=9)
    h = _clf(seed=6).fit(X, y, epochs=2, batch_size=None)
    assert set(h.history) == {"loss", "accuracy", "lr"}
    h = _clf(seed=6).fit(X, y, epochs=2, validation_split=0.25, batch_size=None)
    assert set(h.history) == {"loss", "accuracy", "val_loss", "val_accuracy", "lr"}
    assert all(len(v) == 2 for v in h.history.values())
    assert h.loss is h.history["loss"] or h.loss == h.history["loss"]
    Xr, yr = regression(m=20, seed=10)
    h = dense_model([3, 1], ["linear"]).fit(Xr, yr, epochs=2, validation_split=0.25, batch_size=None)
    assert set(h.history) == {"loss", "val_loss", "lr"}
    h = dense_model([3, 1], ["linear"]).fit(Xr, yr, epochs=2, batch_size=None)
    assert set(h.history) == {"loss", "lr"}


def test_binary_accuracy_in_history():
    rng = np.random.default_rng(11)
    X = rng.normal(size=(30, 2))
    y = (X[:, 0] > 0).astype(int)
    model = dense_model([2, 1], ["sigmoid"], seed=7)
    first = model.copy()
    h = model.fit(X, y, epochs=2, learning_rate=0.5, shuffle=False, validation_data=(X, y), batch_size=None)
    assert h.history["accuracy"][0] == first.accuracy(X, y)
    assert h.history["val_accuracy"][-1] == model.accuracy(X, y)


# ============================================================================= early stopping
def test_early_stopping_restore_best_on_val_loss():
    X, y, Xv, yv = _diverging_validation()
    model = dense_model([2, 1], ["linear"], seed=6)
    model.dense_layers[0].weights = [[0.0], [0.0]]
    start = model.copy()
    # a validation set that agrees at first: mix half of the training targets in
    Xv2 = np.vstack([Xv, X[:10]])
    yv2 = np.concatenate([yv, y[:10]])
    rec = ParamRecorder(model)
    h = model.fit(
        X,
        y,
        epochs=60,
        learning_rate=0.05,
        shuffle=False,
        validation_data=(Xv2, yv2),
        early_stopping=fm.EarlyStopping(patience=3),
        callback=rec,
        batch_size=None,
    )
    val = h.history["val_loss"]
    n, best = simulate_early_stopping(val, patience=3, min_delta=0.0)
    assert 0 < best < n - 1, "construction: val_loss must first fall, then rise"
    assert h.stopped_early and h.epochs == n < 60
    assert h.best_epoch == best == int(np.argmin(val))
    np.testing.assert_array_equal(model.params, rec.params[best])
    # and a plain rerun for best_epoch + 1 epochs ends at the same weights
    start.fit(X, y, epochs=best + 1, learning_rate=0.05, shuffle=False, batch_size=None)
    np.testing.assert_array_equal(model.params, start.params)


def test_early_stopping_restore_best_false_keeps_last():
    X, y, Xv, yv = _diverging_validation()
    Xv2, yv2 = np.vstack([Xv, X[:10]]), np.concatenate([yv, y[:10]])
    model = dense_model([2, 1], ["linear"], seed=6)
    model.dense_layers[0].weights = [[0.0], [0.0]]
    start = model.copy()
    h = model.fit(
        X,
        y,
        epochs=60,
        learning_rate=0.05,
        shuffle=False,
        validation_data=(Xv2, yv2),
        early_stopping=fm.EarlyStopping(patience=3, restore_best=False),
        batch_size=None,
    )
    assert h.stopped_early and h.best_epoch is not None and h.best_epoch < h.epochs - 1
    start.fit(X, y, epochs=h.epochs, learning_rate=0.05, shuffle=False, batch_size=None)
    np.testing.assert_array_equal(model.params, start.params)


def test_early_stopping_min_delta_on_loss():
    """The training loss improves a little every epoch: min_delta larger than that stops after patience epochs."""
    X, y = regression(m=20, seed=12)
    model = dense_model([3, 1], ["linear"], seed=8)
    h = model.fit(
        X,
        y,
        epochs=50,
        learning_rate=0.001,
        early_stopping=fm.EarlyStopping(patience=4, min_delta=10.0, monitor="loss"),
        batch_size=None,
    )
    assert all(b < a for a, b in zip(h.loss, h.loss[1:]))
    assert h.epochs == 5 and h.best_epoch == 0 and h.stopped_early


def test_early_stopping_never_triggers_while_improving():
    X, y = regression(m=20, seed=13)
    model = dense_model([3, 1], ["linear"], seed=9)
    h = model.fit(X, y, epochs=15, learning_rate=0.01, early_stopping=fm.EarlyStopping(patience=2), batch_size=None)
    assert h.epochs == 15 and not h.stopped_early and h.best_epoch == 14  # monitor defaults to loss


@pytest.mark.parametrize("patience,min_delta", [(1, 0.0), (2, 0.0), (3, 0.0), (5, 0.01)])
def test_early_stopping_rule_matches_simulation(patience, min_delta):
    """Noisy mini-batch training: the stopping epoch and best epoch follow the documented rule."""
    X, y = blobs(m=80, seed=14)
    X = X + np.random.default_rng(0).normal(size=X.shape) * 1.5  # overlapping classes: a noisy val_loss
    X, y, Xv, yv = X[:60], y[:60], X[60:], y[60:]
    model = _clf(seed=10)
    # a run without early stopping follows the same trajectory (same seed): its val_loss is the sequence
    free = model.copy()
    hf = free.fit(X, y, epochs=40, batch_size=4, learning_rate=0.05, validation_data=(Xv, yv), seed=3)
    rec = ParamRecorder(model)
    h = model.fit(
        X,
        y,
        epochs=40,
        batch_size=4,
        learning_rate=0.05,
        validation_data=(Xv, yv),
        seed=3,
        early_stopping=fm.EarlyStopping(patience=patience, min_delta=min_delta),
        callback=rec,
    )
    n, best = simulate_early_stopping(hf.history["val_loss"], patience, min_delta)
    assert 0 < best < n - 1 and n < 40, "construction: val_loss falls, then wanders"
    assert h.epochs == n and h.best_epoch == best and h.stopped_early
    assert h.history["val_loss"] == hf.history["val_loss"][:n]
    np.testing.assert_array_equal(model.params, rec.params[best])


def test_restore_best_when_the_callback_stops():
    """restore_best applies however training ends: here the callback stops it before patience runs out."""
    X, y, Xv, yv = _diverging_validation()
    Xv2, yv2 = np.vstack([Xv, X[:10]]), np.concatenate([yv, y[:10]])
    model = dense_model([2, 1], ["linear"], seed=6)
    model.dense_layers[0].weights = [[0.0], [0.0]]
    rec = ParamRecorder(model, stop_at=12)
    h = model.fit(
        X,
        y,
        epochs=60,
        learning_rate=0.05,
        shuffle=False,
        validation_data=(Xv2, yv2),
        early_stopping=fm.EarlyStopping(patience=50),
        callback=rec,
        batch_size=None,
    )
    assert h.epochs == 13 and h.stopped_early
    best = int(np.argmin(h.history["val_loss"]))
    assert h.best_epoch == best < 12
    np.testing.assert_array_equal(model.params, rec.params[best])


def test_tol_stopping_still_works():
    X, y = regression(m=20, seed=18)
    model = dense_model([3, 1], ["linear"], seed=9)
    h = model.fit(X, y, epochs=500, learning_rate=0.05, tol=1e-4, batch_size=None)
    assert h.stopped_early and h.epochs < 500
    assert abs(h.loss[-1] - h.loss[-2]) < 1e-4
    assert all(abs(a - b) >= 1e-4 for a, b in zip(h.loss[:-2], h.loss[1:-1]))


def test_early_stopping_monitor_errors():
    X, y = regression(m=20, seed=16)
    model = dense_model([3, 1], ["linear"])
    with pytest.raises(ValueError):
        model.fit(X, y, epochs=2, early_stopping=fm.EarlyStopping(monitor="val_loss"), batch_size=None)
    with pytest.raises(TypeError):
        model.fit(X, y, epochs=2, early_stopping=5, batch_size=None)
    for bad in (dict(patience=0), dict(min_delta=-1), dict(monitor="auc"), dict(mode="up")):
        with pytest.raises(ValueError):
            fm.EarlyStopping(**bad)
    with pytest.raises(ValueError, match="classification"):  # a regression model logs no accuracy
        model.fit(X, y, epochs=2, early_stopping=fm.EarlyStopping(monitor="accuracy"), batch_size=None)


def test_early_stopping_default_monitor_is_val_loss_with_validation():
    """monitor=None uses val_loss when validating: training loss keeps falling, yet it stops."""
    X, y, Xv, yv = _diverging_validation()
    model = dense_model([2, 1], ["linear"], seed=6)
    model.dense_layers[0].weights = [[0.0], [0.0]]
    h = model.fit(
        X,
        y,
        epochs=40,
        learning_rate=0.05,
        shuffle=False,
        validation_data=(Xv, yv),
        early_stopping=fm.EarlyStopping(patience=2),
        batch_size=None,
    )
    assert all(b < a for a, b in zip(h.loss, h.loss[1:]))
    assert h.stopped_early and h.epochs == 3 and h.best_epoch == 0


def test_history_without_early_stopping():
    X, y = regression(m=20, seed=17)
    h = dense_model([3, 1], ["linear"]).fit(X, y, epochs=3, batch_size=None)
    assert h.best_epoch is None and not h.stopped_early and h.epochs == 3
