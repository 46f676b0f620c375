"""Chunked data sources (fastmlp.data): the same answers as arrays, bad chunks named, bounded memory."""

import os
import subprocess
import sys

import numpy as np
import pytest

import fastmlp as fm


def _data(m=600, d=6, k=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(m, d)), rng.integers(0, k, size=m)


def _model(seed=1, optimizer=None, dropout=False):
    layers = [fm.Dense(6, 16, "relu")] + ([fm.Dropout(0.2)] if dropout else []) + [fm.Dense(16, 3, "softmax")]
    return fm.Sequential(
        layers, dtype="float64", seed=seed, optimizer=optimizer if optimizer is not None else fm.SGD(0.05, momentum=0.9)
    )


@pytest.mark.parametrize("chunk_rows", [600, 150, 50])  # one chunk; several, each a multiple of the batch
def test_chunks_of_whole_batches_equal_in_memory_fit(chunk_rows):
    X, y = _data()
    a, b = _model(dropout=True), _model(dropout=True)
    ha = a.fit(X, y, epochs=3, batch_size=50, shuffle=False)
    hb = b.fit(fm.data.from_arrays(X, y, chunk_rows=chunk_rows), epochs=3, batch_size=50, shuffle=False)
    np.testing.assert_array_equal(b.params, a.params)
    assert ha.history == hb.history


def test_one_chunk_with_balanced_class_weights_equals_arrays():
    X, y = _data()
    y[:400] = 0  # unbalanced
    a, b = _model(), _model()
    a.fit(X, y, epochs=2, batch_size=32, shuffle=False, class_weight="balanced")
    b.fit(fm.data.from_arrays(X, y, chunk_rows=600), epochs=2, batch_size=32, shuffle=False, class_weight="balanced")
    np.testing.assert_allclose(b.params, a.params, rtol=1e-12, atol=1e-15)  # the table from one counting pass


def test_a_batch_never_straddles_two_chunks():
    """Chunks of 200 rows, batches of 64: each chunk gives 64, 64, 64 and its last 8 rows; the same
    batches as one-epoch fits on each chunk in turn (the optimizer's state carries over)."""
    X, y = _data()
    a, b = _model(), _model()
    for start in range(0, 600, 200):
        a.fit(X[start : start + 200], y[start : start + 200], epochs=1, batch_size=64, shuffle=False)
    b.fit(fm.data.from_arrays(X, y, chunk_rows=200), epochs=1, batch_size=64, shuffle=False)
    np.testing.assert_allclose(b.params, a.params, rtol=1e-12, atol=1e-15)


def test_shuffling_is_deterministic_for_a_seed():
    X, y = _data()
    src = lambda: fm.data.from_arrays(X, y, chunk_rows=100)
    a, b, c = _model(), _model(), _model()
    a.fit(src(), epochs=2, batch_size=32, seed=5)
    b.fit(src(), epochs=2, batch_size=32, seed=5)
    c.fit(src(), epochs=2, batch_size=32, seed=6)
    np.testing.assert_array_equal(a.params, b.params)
    assert not np.array_equal(a.params, c.params)


def test_npy_shards_validation_source_early_stopping(tmp_path):
    X, y = _data()
    for i, (a, b) in enumerate([(0, 250), (250, 420), (420, 600)]):
        np.save(tmp_path / f"X_{i}.npy", X[a:b])
        np.save(tmp_path / f"y_{i}.npy", y[a:b])
    source = fm.data.from_npy(str(tmp_path / "X_*.npy"), str(tmp_path / "y_*.npy"), chunk_rows=100)
    assert source.n_rows == 600 and source.n_features == 6
    model = _model()
    h = model.fit(
        source,
        epochs=20,
        batch_size=32,
        validation_data=fm.data.from_arrays(X[:90], y[:90], chunk_rows=40),
        early_stopping=fm.EarlyStopping(patience=2, monitor="val_loss"),
    )
    assert set(h.history) >= {"loss", "accuracy", "val_loss", "val_accuracy"}
    np.testing.assert_allclose(h.history["val_loss"][h.best_epoch], model.loss(X[:90], y[:90]), rtol=1e-12)


def test_a_reader_of_your_own_with_sample_weights():
    X, y = _data()
    w = np.random.default_rng(3).uniform(0, 2, size=600)

    def reader():
        for a in range(0, 600, 150):
            yield X[a : a + 150], y[a : a + 150], w[a : a + 150]

    a, b = _model(), _model()
    a.fit(X, y, epochs=2, batch_size=50, shuffle=False, sample_weight=w)
    b.fit(reader, epochs=2, batch_size=50, shuffle=False)
    np.testing.assert_array_equal(b.params, a.params)
    gen = (item for item in [(X, y)])  # a generator can be read once: the second epoch says so
    with pytest.raises(ValueError, match="generator"):
        _model().fit(gen, epochs=2, batch_size=50)


def test_predict_and_evaluate_stream(tmp_path):
    X, y = _data()
    model = _model()
    model.fit(X, y, epochs=1, batch_size=32)
    src = fm.data.from_arrays(X, y, chunk_rows=70)
    out = np.lib.format.open_memmap(tmp_path / "p.npy", mode="w+", dtype=np.float64, shape=(600, 3))
    # chunks of 70 rows against 600 at once: the same per-row math; a GEMM may round the last bit
    # differently for another number of rows (Eigen's fallback does)
    np.testing.assert_allclose(model.predict_proba(src), model.predict_proba(X), rtol=1e-13, atol=1e-15)
    model.forward(src, out=out)
    np.testing.assert_allclose(np.asarray(out), model.forward(X), rtol=1e-13, atol=1e-15)
    np.testing.assert_array_equal(model.predict(src), model.predict(X))
    assert model.evaluate(src) == pytest.approx(model.evaluate(X, y), rel=1e-12)


@pytest.mark.parametrize(
    "bad, match",
    [
        (lambda X, y: (X[:, :5], y), "chunk 1.*features"),
        (lambda X, y: (np.where(np.arange(len(X))[:, None] == 3, np.nan, X), y), "chunk 1.*NaN"),
        (lambda X, y: (X, y + 5), "chunk 1.*class"),
        (lambda X, y: (X[:0], y[:0]), "chunk 1.*empty"),
    ],
)
def test_a_bad_chunk_is_named_and_training_stops_at_the_last_step(bad, match):
    X, y = _data()

    def reader():
        yield X[:300], y[:300]
        yield bad(X[300:], y[300:])

    model = _model()
    start = model.params.copy()
    with pytest.raises(ValueError, match=match):
        model.fit(reader, epochs=1, batch_size=50, shuffle=False)
    assert not np.array_equal(model.params, start) and np.isfinite(model.params).all()  # chunk 0 trained


def test_missing_or_truncated_shards_and_failing_readers(tmp_path):
    X, y = _data()
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    with pytest.raises(FileNotFoundError, match="nope.npy"):
        fm.data.from_npy([tmp_path / "nope.npy"], [tmp_path / "y.npy"])
    raw = (tmp_path / "X.npy").read_bytes()
    (tmp_path / "cut.npy").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match="cut.npy"):
        fm.data.from_npy([tmp_path / "cut.npy"], [tmp_path / "y.npy"])

    def failing():
        yield X[:100], y[:100]
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError, match="disk on fire"):
        _model().fit(failing, epochs=1, batch_size=50)
    with pytest.raises(TypeError, match="y=None"):
        _model().fit(fm.data.from_arrays(X, y), y, epochs=1)
    with pytest.raises(ValueError, match="validation_split"):
        _model().fit(fm.data.from_arrays(X, y), epochs=1, validation_split=0.2)


# VmHWM: this process's peak RSS (ru_maxrss would carry the parent's over fork + exec).
RSS_SCRIPT = r"""
import sys, numpy as np, fastmlp as fm
def peak_mb():
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM")) // 1024
X = np.load(sys.argv[1], mmap_mode="r"); y = np.load(sys.argv[2], mmap_mode="r")
model = fm.Sequential([fm.Dense(X.shape[1], 16, "relu"), fm.Dense(16, 2, "softmax")], seed=0, optimizer=fm.SGD(0.01))
model.fit(fm.data.from_arrays(X[:2000], y[:2000], chunk_rows=1000), epochs=1, batch_size=256)  # warm up
base = peak_mb()
model.fit(fm.data.from_arrays(X, y, chunk_rows=2000), epochs=1, batch_size=256)
print(peak_mb() - base, np.asarray(X).sum() > 0 and peak_mb() - base)  # then all of X: the measure can fail
"""


def test_peak_memory_is_bounded_by_the_chunks_not_the_file(tmp_path):
    """A 200 MB float32 memmap in 8 MB chunks: the process grows by a few chunks, not the file."""
    rows, cols = 50_000, 1000
    X = np.lib.format.open_memmap(tmp_path / "X.npy", mode="w+", dtype=np.float32, shape=(rows, cols))
    for a in range(0, rows, 5000):
        X[a : a + 5000] = np.random.default_rng(a).random((5000, cols), dtype=np.float32)
    X.flush()
    del X
    np.save(tmp_path / "y.npy", np.arange(rows) % 2)
    done = subprocess.run(
        [sys.executable, "-c", RSS_SCRIPT, str(tmp_path / "X.npy"), str(tmp_path / "y.npy")],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert done.returncode == 0, done.stderr
    grown_mb, grown_all_mb = map(int, done.stdout.split()[-2:])
    assert grown_mb < 80, f"peak RSS grew by {grown_mb} MB training on a 200 MB file in 8 MB chunks"
    assert grown_all_mb > 150  # touching the whole memmap does show in the measure


def test_cli_trains_on_a_folder_of_npy_shards(tmp_path):
    X, y = _data()
    shards = tmp_path / "shards"
    shards.mkdir()
    for i in range(3):
        np.save(shards / f"X_{i}.npy", X[i * 200 : (i + 1) * 200])
        np.save(shards / f"y_{i}.npy", y[i * 200 : (i + 1) * 200])
    for data in (str(shards), str(shards / "X_*.npy")):
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "fastmlp",
                "train",
                data,
                "--epochs",
                "2",
                "--no-progress",
                "--out",
                str(tmp_path / "m.safetensors"),
            ],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
        assert "600 samples in shards" in done.stdout and "3 classes" in done.stdout
    assert fm.Sequential.load(tmp_path / "m.safetensors").n_features_in == 6
    (shards / "y_2.npy").unlink()
    done = subprocess.run(
        [sys.executable, "-m", "fastmlp", "train", str(shards), "--out", str(tmp_path / "n.st")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode != 0 and "y_2.npy" in done.stderr


@pytest.mark.parametrize(
    "chunk_rows, error", [(-5, ValueError), (0, ValueError), (1.5, TypeError), ("100", TypeError), (True, TypeError)]
)
def test_chunk_rows_is_checked_by_every_source(tmp_path, chunk_rows, error):
    """Audit F5: from_npy(chunk_rows=-5) 'trained' with loss 0.0, 0 raised ZeroDivisionError, 1.5
    and "100" gave TypeErrors that did not name it."""
    X, y = _data()
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    for make in (
        lambda: fm.data.from_npy([tmp_path / "X.npy"], [tmp_path / "y.npy"], chunk_rows=chunk_rows),
        lambda: fm.data.from_arrays(X, y, chunk_rows=chunk_rows),
    ):
        with pytest.raises(error, match=r"chunk_rows must be a positive integer, got"):
            make()
    model = _model()
    with pytest.raises(error, match="chunk_rows"):
        model.fit(fm.data.from_npy(str(tmp_path / "X*.npy"), str(tmp_path / "y*.npy"), chunk_rows=chunk_rows))
    assert model.epochs_trained == 0


FIFO_SHARD = r"""
import os, sys
import numpy as np
import fastmlp as fm

folder = sys.argv[1]
X = np.random.default_rng(0).normal(size=(200, 4)); y = (X[:, 0] > 0).astype(np.int64)
np.save(os.path.join(folder, "X_0.npy"), X); np.save(os.path.join(folder, "y_0.npy"), y)
os.mkfifo(os.path.join(folder, "X_1.npy")); np.save(os.path.join(folder, "y_1.npy"), y)
try:  # a FIFO among the shards: an error at once, not an open that waits for a writer
    fm.data.from_npy(os.path.join(folder, "X_*.npy"), os.path.join(folder, "y_*.npy"))
except ValueError as e:
    print("at start:", e)
os.remove(os.path.join(folder, "X_1.npy"))
np.save(os.path.join(folder, "X_1.npy"), X)
source = fm.data.from_npy(os.path.join(folder, "X_*.npy"), os.path.join(folder, "y_*.npy"), chunk_rows=100)
os.remove(os.path.join(folder, "X_1.npy"))
os.mkfifo(os.path.join(folder, "X_1.npy"))  # replaced by a FIFO mid-fit
model = fm.Sequential([fm.Dense(4, 2, "softmax")], seed=0)
try:
    model.fit(source, epochs=2, batch_size=50, shuffle=False)
except ValueError as e:
    print("mid-fit:", e)
"""


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs (POSIX)")
def test_a_shard_that_is_not_a_regular_file_is_an_error_not_a_hang(tmp_path):
    """Audit F2: a shard replaced by a FIFO mid-fit blocked forever (and ignored SIGINT): the shard
    reader opened it without checking it is a regular file."""
    done = subprocess.run([sys.executable, "-c", FIFO_SHARD, str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    start, mid = done.stdout.splitlines()
    assert start.startswith("at start: shard ") and "X_1.npy is not a regular file" in start
    assert mid.startswith("mid-fit: ") and "X_1.npy is not a regular file" in mid
