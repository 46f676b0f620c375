"""Ctrl-C while the C++ loop waits in Python for a chunk: the wait polls the loop's own flag
(handed over by cpp/bindings/training.cpp), with no swap of SIGINT handlers. The fit whose
training reader blocks is tests/test_audit_model.py's test_ctrl_c_stops_a_fit_whose_reader_blocks."""

import os
import queue
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from fastmlp._interrupt import POLL_SECONDS, interruptible_get


def test_a_wait_ends_when_the_loops_flag_is_set():
    flag, q = threading.Event(), queue.Queue()
    threading.Timer(0.2, flag.set).start()
    late = threading.Timer(5.0, q.put, ("late",))  # a wait that misses the flag fails, not hangs
    late.start()
    start = time.perf_counter()
    try:
        with pytest.raises(KeyboardInterrupt):
            interruptible_get(q, flag.is_set)
    finally:
        late.cancel()
    assert 0.2 <= time.perf_counter() - start < 0.2 + 5 * POLL_SECONDS


def test_a_wait_returns_what_comes_while_the_flag_is_clear():
    q = queue.Queue()
    threading.Timer(3 * POLL_SECONDS, q.put, ("chunk",)).start()
    polls = []
    assert interruptible_get(q, lambda: polls.append(1) and False) == "chunk"
    assert polls  # the flag was looked at while nothing came
    q.put("next")
    assert interruptible_get(q) == "next"  # outside a fit: no flag


VALIDATION_BLOCKS = textwrap.dedent(
    """
    import os, signal, threading, time
    import numpy as np
    import fastmlp as fm

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(150, 3)), rng.integers(0, 2, 150)
    val = [(rng.normal(size=(50, 3)), rng.integers(0, 2, 50)) for _ in range(2)]
    passes = []

    def val_reader():  # the first evaluation reads at once; the second blocks for 20 s
        passes.append(1)
        yield val[0]
        if len(passes) > 1:
            time.sleep(20)
        yield val[1]

    model = fm.Sequential([fm.Dense(3, 2, "softmax")], seed=0)
    threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGINT)).start()
    start = time.perf_counter()
    try:
        model.fit(X, y, epochs=1000, batch_size=10, validation_data=fm.data.as_source(val_reader))
        print("no KeyboardInterrupt")
    except KeyboardInterrupt:
        print("interrupted")
    print(f"seconds {time.perf_counter() - start:.2f} passes {len(passes)}")
    """
)


def test_ctrl_c_stops_a_fit_whose_validation_reader_blocks():
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", VALIDATION_BLOCKS], capture_output=True, text=True, timeout=60, env=dict(os.environ)
    )
    assert done.returncode == 0, done.stderr
    assert "interrupted" in done.stdout, done.stdout
    assert float(done.stdout.split("seconds ")[1].split()[0]) < 5, done.stdout  # not the reader's 20 s
    assert "passes 2" in done.stdout  # it was the second evaluation's wait that Ctrl-C ended
    assert time.perf_counter() - start < 15
