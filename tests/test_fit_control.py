"""Issue 4: validation, early stopping, epoch callbacks, progress bar, Ctrl-C, divergence,
gradient-norm recording and the vanishing-gradient warning."""

import os
import re
import signal
import threading
import time
import warnings

import numpy as np
import pytest

import fastmlp as fm
from helpers_training import ParamRecorder, blobs, dense_model, regression, simulate_early_stopping


def _clf(seed=0, k=3, **kw):
    return dense_model([3, 6, k], ["tanh", "softmax"], seed=seed, **kw)


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


# ============================================================================= callbacks
def test_callback_receives_epoch_and_logs():
    X, y = blobs(m=30, seed=18)
    model = _clf(seed=11)
    rec = ParamRecorder(model)
    h = model.fit(X, y, epochs=4, learning_rate=0.3, validation_split=0.2, callback=rec, batch_size=None)
    assert rec.epochs == [0, 1, 2, 3]
    for e, logs in enumerate(rec.logs):
        assert {"loss", "accuracy", "val_loss", "val_accuracy", "lr"} <= set(logs)
        for k in ("loss", "accuracy", "val_loss", "val_accuracy", "lr"):
            assert logs[k] == h.history[k][e]


def test_callback_logs_have_only_applicable_keys():
    X, y = regression(m=20, seed=19)
    seen = []
    dense_model([3, 1], ["linear"]).fit(X, y, epochs=1, callback=lambda e, logs: seen.append(logs), batch_size=None)
    assert "accuracy" not in seen[0] and "val_loss" not in seen[0] and "val_accuracy" not in seen[0]


def test_callback_returning_false_stops_after_that_epoch():
    X, y = blobs(m=30, seed=20)
    model = _clf(seed=12)
    rec = ParamRecorder(model, stop_at=2)
    h = model.fit(X, y, epochs=50, callback=rec, batch_size=None)
    assert h.epochs == 3 and rec.epochs == [0, 1, 2] and h.stopped_early
    np.testing.assert_array_equal(model.params, rec.params[-1])
    assert model.epochs_trained == 3


@pytest.mark.parametrize("ret", [None, True, 1])
def test_callback_truthy_or_none_continues(ret):
    X, y = blobs(m=30, seed=21)
    h = _clf(seed=13).fit(X, y, epochs=4, callback=lambda e, logs: ret, batch_size=None)
    assert h.epochs == 4 and not h.stopped_early


def test_callback_exception_propagates_and_model_stays_usable():
    X, y = blobs(m=30, seed=22)
    model = _clf(seed=14)
    rec = ParamRecorder(model)

    def cb(epoch, logs):
        rec(epoch, logs)
        if epoch == 2:
            raise RuntimeError("boom from callback")

    with pytest.raises(RuntimeError, match="boom from callback"):
        model.fit(X, y, epochs=20, batch_size=7, learning_rate=0.2, callback=cb)
    assert rec.epochs == [0, 1, 2]
    np.testing.assert_array_equal(model.params, rec.params[-1])  # stopped right there
    assert np.isfinite(model.forward(X)).all()
    h = model.fit(X, y, epochs=2, learning_rate=0.2, batch_size=None)
    assert h.epochs == 2 and np.isfinite(h.loss).all()


def test_callback_must_be_callable():
    X, y = blobs(m=30, seed=23)
    with pytest.raises(TypeError):
        _clf().fit(X, y, epochs=1, callback=3, batch_size=None)


def test_callback_sees_every_epoch_with_early_stopping():
    X, y = regression(m=20, seed=12)
    model = dense_model([3, 1], ["linear"], seed=8)
    seen = []
    h = model.fit(
        X,
        y,
        epochs=50,
        learning_rate=0.001,
        callback=lambda e, logs: seen.append(e),
        early_stopping=fm.EarlyStopping(patience=4, min_delta=10.0, monitor="loss"),
        batch_size=None,
    )
    assert h.epochs == 5
    assert seen == list(range(h.epochs))


def test_verbose_progress_bar(capsys):
    pytest.importorskip("tqdm")
    X, y = blobs(m=30, seed=24)
    h = _clf(seed=15).fit(X, y, epochs=3, verbose=True, validation_split=0.2, batch_size=None)
    out = capsys.readouterr()
    text = out.err + out.out
    assert h.epochs == 3
    assert "3/3" in text and "loss" in text


def test_verbose_with_callback_stop(capsys):
    pytest.importorskip("tqdm")
    X, y = blobs(m=30, seed=25)
    h = _clf(seed=16).fit(X, y, epochs=10, verbose=True, callback=lambda e, logs: e < 1, batch_size=None)
    capsys.readouterr()
    assert h.epochs == 2


# ============================================================================= Ctrl-C
@pytest.fixture
def python_sigint():
    """Python's own SIGINT handler for the test: a process started in the background by a
    non-interactive shell inherits SIGINT ignored, and then Python installs none."""
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, old)


def _sigint_reaches_python():
    """True when a SIGINT raises KeyboardInterrupt in Python (i.e. fastmlp restored the handler)."""
    try:
        os.kill(os.getpid(), signal.SIGINT)
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            time.sleep(0.01)
    except KeyboardInterrupt:
        return True
    return False


def test_ctrl_c_interrupts_fit(python_sigint):
    rng = np.random.default_rng(26)
    X = rng.normal(size=(4000, 30))
    y = rng.integers(0, 5, size=4000)
    model = dense_model([30, 64, 5], ["relu", "softmax"], dtype="float32", seed=17)
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    t0 = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            model.fit(X, y, epochs=100000, batch_size=16, learning_rate=0.01)
    finally:
        timer.cancel()
    elapsed = time.monotonic() - t0
    assert elapsed < 1.5, f"fit took {elapsed:.2f}s to react to SIGINT at 0.3s"
    assert np.isfinite(model.params).all()
    assert np.isfinite(model.forward(X[:10])).all()
    # fit works again afterwards, and Ctrl-C reaches Python again once fit is over
    h = model.fit(X[:100], y[:100], epochs=2, batch_size=50)
    assert h.epochs == 2
    assert _sigint_reaches_python()


def test_sigint_handler_restored_after_callback_exception(python_sigint):
    X, y = blobs(m=30, seed=27)

    def cb(e, logs):
        raise ValueError("x")

    with pytest.raises(ValueError):
        _clf(seed=18).fit(X, y, epochs=3, callback=cb, batch_size=None)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert _sigint_reaches_python()


def test_fit_in_worker_thread_works():
    """Off the main thread no SIGINT handler is installed; fit still runs."""
    X, y = blobs(m=30, seed=28)
    model = _clf(seed=19)
    out = {}
    t = threading.Thread(target=lambda: out.setdefault("h", model.fit(X, y, epochs=3, batch_size=None)))
    t.start()
    t.join(10)
    assert out["h"].epochs == 3


# ============================================================================= divergence
def _exploding(seed=29, scale=100.0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(20, 3)) * scale
    y = rng.normal(size=20) * scale
    return X, y


def test_divergence_full_batch():
    X, y = _exploding()
    model = dense_model([3, 4, 1], ["linear", "linear"], seed=20)
    rec = ParamRecorder(model)
    with pytest.raises(fm.DivergenceError) as info:
        model.fit(X, y, epochs=500, learning_rate=1.0, callback=rec, batch_size=None)
    assert isinstance(info.value, FloatingPointError)
    assert len(rec.epochs) >= 1
    done = len(rec.epochs)  # epochs completed; the diverging epoch is the next one
    nums = [int(s) for s in re.findall(r"epoch (\d+)", str(info.value))]
    assert nums and nums[0] in (done, done + 1), str(info.value)  # 0- or 1-based
    # Full batch: J is measured before each step, so the non-finite J of epoch `done` was caused by
    # the step of epoch done-1; the weights go back to that epoch's start = the end of epoch done-2.
    assert done >= 2
    np.testing.assert_array_equal(model.params, rec.params[-2])
    assert np.isfinite(model.loss(X, y))


def test_divergence_minibatch_restores_epoch_start():
    """Mini-batches: the loss blows up mid-epoch; the weights go back to that epoch's start (finite)."""
    X, y = _exploding(30, scale=1.0)
    model = dense_model([3, 8, 1], ["relu", "linear"], seed=21, optimizer=fm.SGD(0.5, momentum=0.9))
    rec = ParamRecorder(model)
    with pytest.raises(fm.DivergenceError, match="epoch"):
        model.fit(X, y, epochs=500, batch_size=4, callback=rec)
    assert len(rec.params) >= 1, "construction: at least one epoch completes before the blow-up"
    np.testing.assert_array_equal(model.params, rec.params[-1])
    assert np.isfinite(model.params).all()
    # the model is usable afterwards: a sane learning rate trains it
    model.optimizer = fm.SGD(1e-6)
    h = model.fit(X, y, epochs=2, batch_size=4)
    assert np.isfinite(h.loss).all()


def test_divergence_error_is_exported():
    assert issubclass(fm.DivergenceError, FloatingPointError)


# ============================================================================= gradient norms
def test_grad_norms_full_batch_equal_gradients():
    X, y = blobs(m=30, seed=31)
    model = dense_model([3, 5, 4, 3], ["tanh", "relu", "softmax"], seed=22, l2=0.01)
    grads = model.gradients(X, y)
    h = model.fit(X, y, epochs=1, record_gradients=True, batch_size=None)
    assert h.grad_norms.shape == (1, 3)
    np.testing.assert_allclose(h.grad_norms[0], [np.linalg.norm(dW) for dW, _ in grads], rtol=1e-12)


def test_grad_norms_mean_over_minibatches():
    X, y = blobs(m=23, seed=32)
    model = dense_model([3, 4, 3], ["sigmoid", "softmax"], seed=23)
    shadow = model.copy()
    h = model.fit(X, y, epochs=2, batch_size=10, learning_rate=0.5, shuffle=False, record_gradients=True)
    expect = []
    for _ in range(2):
        norms = []
        for s in range(0, 23, 10):
            g = shadow.gradients(X[s : s + 10], y[s : s + 10])
            norms.append([np.linalg.norm(dW) for dW, _ in g])
            for layer, (dW, db) in zip(shadow.dense_layers, g):
                layer.weights = layer.weights - 0.5 * dW
                layer.bias = layer.bias - 0.5 * db
        expect.append(np.mean(norms, axis=0))
    assert h.grad_norms.shape == (2, 2)
    np.testing.assert_allclose(h.grad_norms, expect, rtol=1e-10)
    np.testing.assert_allclose(model.params, shadow.params, rtol=1e-12, atol=1e-14)


def test_grad_norms_absent_by_default_and_shape_with_dropout():
    X, y = blobs(m=30, seed=33)
    assert _clf().fit(X, y, epochs=2, batch_size=None).grad_norms is None
    model = fm.Sequential([fm.Dense(3, 8, "relu"), fm.Dropout(0.3), fm.Dense(8, 3, "softmax")], seed=0, optimizer="sgd")
    h = model.fit(X, y, epochs=3, record_gradients=True, batch_size=10)
    assert h.grad_norms.shape == (3, 2) and np.all(h.grad_norms > 0)


def _deep_sigmoid(depth, bias):
    """depth sigmoid hidden layers; hidden biases = bias (large -> saturated units, sigmoid' ~ e^-bias)."""
    sizes = [4] + [16] * depth + [3]
    model = dense_model(sizes, ["sigmoid"] * depth + ["softmax"], seed=24)
    for layer in model.dense_layers[:-1]:
        layer.bias = np.full(layer.n_out, float(bias))
    return model


def test_vanishing_gradient_warning():
    X, y = blobs(m=40, d=4, seed=34)
    model = _deep_sigmoid(5, 4.0)
    with pytest.warns(fm.VanishingGradientWarning):
        h = model.fit(X, y, epochs=2, record_gradients=True, batch_size=None)
    assert h.grad_norms[-1, 0] < 1e-3 * h.grad_norms[-1, -1]


def test_no_vanishing_warning_for_healthy_net_or_without_recording():
    X, y = blobs(m=40, d=4, seed=35)
    with warnings.catch_warnings():
        warnings.simplefilter("error", fm.VanishingGradientWarning)
        h = _deep_sigmoid(3, 0.0).fit(X, y, epochs=2, record_gradients=True, batch_size=None)
        assert h.grad_norms[-1, 0] >= 1e-3 * h.grad_norms[-1, -1]
        h = _clf(seed=25).fit(X[:, :3], y, epochs=2, record_gradients=True, batch_size=None)
        assert h.grad_norms.shape == (2, 2)
        _deep_sigmoid(5, 4.0).fit(X, y, epochs=2, batch_size=None)  # the rule needs recorded norms


def test_divergence_error_carries_the_epoch_and_counts_completed_epochs():
    X, y = _exploding()
    model = dense_model([3, 4, 1], ["linear", "linear"], seed=20)
    done = []
    with pytest.raises(fm.DivergenceError) as info:
        model.fit(X, y, epochs=500, learning_rate=1.0, callback=lambda e, logs: done.append(e), batch_size=None)
    assert info.value.epoch == len(done)  # counted from 0: the first epoch that did not complete
    assert model.epochs_trained == len(done)
