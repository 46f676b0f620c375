"""Issue 28's audit findings that live in the core network: each test failed before its fix."""

from __future__ import annotations

import os
import signal
import threading
import time
import warnings

import numpy as np
import pytest

import fastmlp as fm


def small_model(dtype="float32"):
    return fm.Sequential([fm.Dense(4, 8, "relu"), fm.Dense(8, 3, "softmax")], seed=0, dtype=dtype)


def data(m=64):
    rng = np.random.default_rng(0)
    return rng.normal(size=(m, 4)).astype(np.float32), rng.integers(0, 3, m)


# F9: finite inputs that overflow inside the layers gave NaN probabilities with no error.
@pytest.mark.parametrize("dtype, big", [("float32", 3e38), ("float64", 1e308)])
def test_inputs_that_overflow_are_an_error_not_nan(dtype, big):
    model = small_model(dtype)
    X, y = data()
    model.fit(X, y, epochs=1)
    X_big = np.full((2, 4), big, dtype=dtype)
    for call in (model.forward, model.predict_proba, model.predict):
        with pytest.raises(ValueError, match="X: the network's outputs are NaN"):
            call(X_big)
    assert np.all(np.isfinite(model.predict_proba(X)))  # ordinary inputs still work


# F8: a child forked while another thread fits a model hung when it used that model (the
# model's lock was copied locked into the child, where the fitting thread does not exist).
@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_child_forked_during_a_fit_in_another_thread_can_use_the_model():
    model = small_model()
    X, y = data()
    in_fit, release = threading.Event(), threading.Event()

    def hold(epoch, logs):  # runs inside fit, which holds the model's lock
        in_fit.set()
        release.wait(30)

    fitting = threading.Thread(target=lambda: model.fit(X, y, epochs=1, callback=hold))
    fitting.start()
    try:
        assert in_fit.wait(30)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads (Python >= 3.12)
            pid = os.fork()
        if pid == 0:  # the child: use the model, exit at once
            try:
                ok = model.predict(X[:3]).shape == (3,)
            except BaseException:
                ok = False
            os._exit(0 if ok else 3)
        deadline = time.monotonic() + 30
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                pytest.fail("the forked child hung on the model's lock")
            time.sleep(0.05)
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    finally:
        release.set()
        fitting.join(30)
    assert model.epochs_trained == 1  # the parent's fit finished normally
