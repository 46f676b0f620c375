"""Issue 4: epoch callbacks (their logs, stopping, exceptions), the progress bar, Ctrl-C during fit and
fit in a worker thread."""

import os
import signal
import threading
import time

import numpy as np
import pytest

import fastmlp as fm
from helpers_training import ParamRecorder, _clf, blobs, dense_model, regression


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
