"""Issue 28's audit findings on the model's Python side (F2 second half, F3, F9, F11): each test
failed before its fix. The MPI part of F9 is tests/test_mpi_predict.py."""

import os
import pickle
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import fastmlp as fm

rng = np.random.default_rng(0)
X = rng.normal(size=(60, 3))
y = (X[:, 0] > 0).astype(int)


def _model(**kw):
    return fm.Sequential([fm.Dense(3, 4, "relu"), fm.Dense(4, 2, "softmax")], seed=0, **kw)


# --- F3: a one-shot iterator keeps its first chunk when the model is built by the fit ---
def test_one_shot_iterator_trains_on_every_chunk():
    chunks = [(X[i : i + 20], y[i : i + 20]) for i in range(0, 60, 20)]
    deferred = lambda: fm.Sequential([fm.Dense(4, "relu"), fm.Dense(2, "softmax")], seed=0)
    a, b, c = deferred(), deferred(), deferred()
    a.fit(iter(chunks), epochs=1, shuffle=False)
    b.fit(chunks, epochs=1, shuffle=False)
    c.fit(chunks[1:], epochs=1, shuffle=False)
    np.testing.assert_array_equal(a.params, b.params)
    assert not np.array_equal(a.params, c.params)


def test_one_shot_generator_of_one_chunk_trains():
    model = fm.Sequential([fm.Dense(4, "relu"), fm.Dense(2, "softmax")], seed=0)
    model.fit((c for c in [(X, y)]), epochs=1)  # before: "the data source gave no chunks in epoch 0"
    assert model.built and model.epochs_trained == 1


# --- F9: forward(X, out=buf) writes into buf, or says what out must be ---
def test_forward_writes_into_out():
    model = _model()
    buf = np.full((60, 2), np.nan, np.float32)
    assert model.forward(X, out=buf) is buf
    np.testing.assert_array_equal(buf, model.forward(X))
    buf32 = np.full((60, 2), np.nan, np.float32)
    model.forward(X.astype(np.float32), out=buf32)  # the fast path (an array the core maps)
    np.testing.assert_array_equal(buf32, model.forward(X.astype(np.float32)))


@pytest.mark.parametrize(
    "out, match",
    [
        (np.empty((59, 2), np.float32), r"out must be a writable C-contiguous float32 array of shape \(60, 2\)"),
        (np.empty((60, 3), np.float32), r"shape \(60, 2\), got shape \(60, 3\)"),
        (np.empty((60, 2), np.float64), r"float32 array of shape \(60, 2\).*got dtype float64"),
        (np.empty((2, 60), np.float32).T, r"non-contiguous"),
    ],
)
def test_forward_refuses_a_wrong_out(out, match):
    with pytest.raises(ValueError, match=match):
        _model().forward(X, out=out)


def test_forward_refuses_out_that_is_not_an_array():
    with pytest.raises(TypeError, match="out must be"):
        _model().forward(X, out=[[0.0, 0.0]] * 60)


def test_forward_of_a_source_into_out_checks_it_first():
    source = fm.data.from_arrays(X, y, chunk_rows=25)
    buf = np.zeros((70, 2), np.float32)
    got = _model().forward(source, out=buf)
    np.testing.assert_array_equal(got, _model().forward(X)) and got.base is buf
    with pytest.raises(ValueError, match=r"out must be .* shape \(rows, 2\), got dtype float64"):
        _model().forward(source, out=np.zeros((70, 2)))


# --- F11: clear messages ---
def _unbuilt():
    return fm.Sequential([fm.Dense(4, "relu"), fm.Dense(2, "softmax")], seed=0)


@pytest.mark.parametrize(
    "action",
    [lambda m, p: m.save(p), lambda m, p: pickle.dumps(m), lambda m, p: m.to_bytes(), lambda m, p: fm.save(m, p)],
)
def test_saving_an_unbuilt_model_says_how_to_build_it(tmp_path, action):
    with pytest.raises(RuntimeError, match=r"not built yet.*fit\(X, y\) or build\(n_features\)"):
        action(_unbuilt(), tmp_path / "m.safetensors")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("labels", [["a", 1, "b", 2] * 15, np.array(["a", 1, "b", 2] * 15, dtype=object)])
def test_labels_mixing_str_and_int_are_a_type_error_naming_y(labels):
    model = fm.Sequential([fm.Dense(3, 4, "softmax")], seed=0)
    with pytest.raises(TypeError, match=r"y mixes labels of different types \(int, str\)"):
        model.fit(X, labels, epochs=1)
    assert model.epochs_trained == 0 and model.classes_.tolist() == [0, 1, 2, 3]


def test_string_labels_in_a_list_still_work():
    model = fm.Sequential([fm.Dense(3, 2, "softmax")], seed=0)
    model.fit(X, np.where(y == 1, "yes", "no").tolist(), epochs=1)
    assert model.classes_.tolist() == ["no", "yes"]


@pytest.mark.parametrize("method", ["predict", "predict_proba", "forward"])
def test_predict_on_an_empty_source_names_it(method):
    source = fm.data.from_arrays(np.empty((0, 3)), np.empty(0, int))
    with pytest.raises(ValueError, match=r"the data source \(ArraySource\) holds no rows"):
        getattr(_model(), method)(source)


def test_onnx_export_of_something_else_is_a_type_error(tmp_path):
    with pytest.raises(TypeError, match="model must be a fastmlp.Sequential, got object"):
        fm.onnx.export(object(), tmp_path / "m.onnx")
    with pytest.raises(TypeError, match="model must be a fastmlp.Sequential, got object"):
        fm.onnx.to_onnx(object())


def test_divergence_from_nan_weights_says_they_were_left_as_they_were():
    model = _model()
    model.params[...] = np.nan
    with pytest.raises(fm.DivergenceError, match="left as they were") as e:
        model.fit(X, y, epochs=2)
    assert e.value.epoch == 0 and "were reset" not in str(e.value)
    assert np.isnan(model.params).all()  # the message is true


def test_divergence_from_finite_weights_still_resets_them():
    model = fm.Sequential([fm.Dense(3, 1)], loss="mse", seed=0, optimizer=fm.SGD(1e3))
    with pytest.raises(fm.DivergenceError, match="were reset"):
        model.fit(X * 1e3, X[:, 0] * 1e6, epochs=50, batch_size=None)
    assert np.isfinite(model.params).all()


# --- F2: Ctrl-C stops a fit whose reader blocks ---
SIGINT_SCRIPT = textwrap.dedent(
    """
    import os, signal, threading, time
    import numpy as np
    import fastmlp as fm

    rng = np.random.default_rng(0)
    chunks = [(rng.normal(size=(50, 3)), rng.integers(0, 2, 50)) for _ in range(3)]
    epochs_read = []

    def reader():  # epoch 0 reads at once; in epoch 1 the second chunk takes 20 s
        epochs_read.append(1)
        yield chunks[0]
        if len(epochs_read) > 1:
            time.sleep(20)
        yield from chunks[1:]

    model = fm.Sequential([fm.Dense(3, 2, "softmax")], seed=0)
    model.build(3)
    before = model.params.copy()
    threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGINT)).start()
    start = time.perf_counter()
    try:
        model.fit(reader, epochs=1000, batch_size=10)
        print("no KeyboardInterrupt")
    except KeyboardInterrupt as e:
        print("interrupted:", e)
    print(f"seconds {time.perf_counter() - start:.2f} epochs {model.epochs_trained}")
    print("trained", not np.array_equal(model.params, before))
    """
)


def test_ctrl_c_stops_a_fit_whose_reader_blocks():
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", SIGINT_SCRIPT], capture_output=True, text=True, timeout=60, env=dict(os.environ)
    )
    assert done.returncode == 0, done.stderr
    assert "interrupted: fit() interrupted" in done.stdout, done.stdout
    seconds = float(done.stdout.split("seconds ")[1].split()[0])
    assert seconds < 5, done.stdout  # the reader still sleeps: the fit did not wait for it
    assert "epochs 1" in done.stdout and "trained True" in done.stdout  # epoch 0 completed and counts
    assert time.perf_counter() - start < 15  # the process exits without waiting for the reader either
