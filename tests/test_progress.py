"""Keras's ``verbose`` contract (fastmlp.callbacks.ProgressBar and ``train --verbose``): 1 a bar, with
each epoch's metrics (val ones included) on a line of at most 80 columns above it; 2 one line per
epoch; 0 nothing; what callbacks print comes out as whole lines, not garbled with the bar."""

import re
import time

import numpy as np
import pytest

import fastmlp as fm
from fastmlp.callbacks import ProgressBar, epoch_line
from test_cli import run

pytest.importorskip("tqdm")

X = np.random.default_rng(0).normal(size=(60, 3))
y = (X[:, 0] > 0).astype(int)
EPOCH = r"epoch (\d+)/(\d+)  loss \S+  accuracy \d\.\d{4}"


def _fit(verbose, **kw):
    model = fm.Sequential([fm.Dense(3, 2, "softmax")], seed=0)
    return model.fit(X, y, epochs=4, validation_split=0.25, callbacks=[ProgressBar(verbose=verbose)], **kw)


def test_verbose_2_is_one_line_per_epoch_with_every_metric(capsys):
    h = _fit(2)
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert len(lines) == h.epochs == 4 and err == ""
    for e, line in enumerate(lines):
        assert line.startswith(f"epoch {e + 1}/4  loss ") and len(line) <= 80
        for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
            assert f"  {key} {h.history[key][e]:.4{'f' if 'accuracy' in key else 'g'}}" in line


def test_verbose_0_is_silent(capsys):
    _fit(0)
    assert capsys.readouterr() == ("", "")


def test_verbose_1_is_a_bar_with_a_line_per_epoch_and_callbacks_print_whole_lines(capsys):
    printer = fm.callbacks.LambdaCallback(on_epoch_end=lambda e, logs: print(f"callback at epoch {e}"))
    model = fm.Sequential([fm.Dense(3, 2, "softmax")], seed=0)
    model.fit(X, y, epochs=3, validation_split=0.25, callbacks=[ProgressBar(verbose=1), printer])
    out, err = capsys.readouterr()
    assert out.splitlines() == [
        line
        for e in range(3)
        for line in (next(l for l in out.splitlines() if l.startswith(f"epoch {e + 1}/3")), f"callback at epoch {e}")
    ]
    assert all("val_accuracy" in l for l in out.splitlines() if l.startswith("epoch"))
    assert "3/3" in err and "epoch/s" in err  # the bar, on stderr


def test_fit_verbose_true_shows_the_bar_and_the_lines(capsys):
    model = fm.Sequential([fm.Dense(3, 2, "softmax")], seed=0)
    model.fit(X, y, epochs=2, validation_split=0.25, verbose=True, callback=lambda e, logs: print("hello"))
    out, err = capsys.readouterr()
    assert [l.split("  ")[0] for l in out.splitlines()] == ["epoch 1/2", "hello", "epoch 2/2", "hello"]
    assert "2/2" in err


def test_every_metric_fits_80_columns():
    logs = {"loss": 0.41213, "accuracy": 0.86, "val_loss": 0.5012, "val_accuracy": 0.8}
    assert epoch_line(2, 10, logs) == "epoch 3/10  loss 0.4121  accuracy 0.8600  val_loss 0.5012  val_accuracy 0.8000"
    tiny = {"loss": 1.2345e-05, "accuracy": 0.86, "val_loss": 1.5012e-05, "val_accuracy": 0.8}
    text = epoch_line(999, 1000, tiny)
    assert text.splitlines() == [
        "epoch 1000/1000  loss 1.234e-05  accuracy 0.8600",
        "                 val_loss 1.501e-05  val_accuracy 0.8000",
    ]
    assert all(len(line) <= 80 for line in text.splitlines())


@pytest.mark.parametrize("bad", [3, -1, "2", 1.0])
def test_verbose_must_be_0_1_or_2(bad):
    with pytest.raises(ValueError, match="verbose must be 0, 1 or 2"):
        ProgressBar(verbose=bad)


def test_cli_train_verbose(tmp_path):
    rows = ["a,b,c,y"] + [f"{a!r},{b!r},{c!r},{t}" for (a, b, c), t in zip(X.tolist(), y)]
    (tmp_path / "d.csv").write_text("\n".join(rows) + "\n")
    common = ["train", "d.csv", "--epochs", "3", "--validation-split", "0.25"]
    two = run(*common, "--verbose", "2", cwd=tmp_path, check=0)
    epochs = [l for l in two.stdout.splitlines() if l.startswith("epoch ")]
    assert [l.split("  ")[0] for l in epochs] == ["epoch 1/3", "epoch 2/3", "epoch 3/3"]
    assert all("val_loss" in l and "val_accuracy" in l and len(l) <= 80 for l in epochs) and two.stderr == ""
    zero = run(*common, "--verbose", "0", cwd=tmp_path, check=0)
    assert not any(l.startswith("epoch ") for l in zero.stdout.splitlines()) and zero.stderr == ""
    one = run(*common, cwd=tmp_path, check=0)
    assert len([l for l in one.stdout.splitlines() if l.startswith("epoch ")]) == 3 and "3/3" in one.stderr


class _Recording(ProgressBar):
    """A bar that also records what the loop reports during each epoch."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.reports = []

    def on_batch_progress(self, done, total):
        self.reports.append((self._done, done, total, time.perf_counter()))
        super().on_batch_progress(done, total)


def _slow_fit(bar, epochs=2):
    """A fit of about a second or more (1250 batches per epoch; 512-wide, so that a quiet core
    does not finish two epochs in under half a second)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20_000, 64)).astype(np.float32)
    labels = rng.integers(0, 10, 20_000)
    model = fm.Sequential([fm.Dense(64, 512, "relu"), fm.Dense(512, 512, "relu"), fm.Dense(512, 10, "softmax")], seed=0)
    start = time.perf_counter()
    model.fit(X, labels, epochs=epochs, batch_size=16, callbacks=[bar])
    return time.perf_counter() - start


def test_verbose_1_bar_advances_within_each_epoch(capsys):
    """Keras's verbose=1: the bar moves during an epoch (the loop reports at most every 0.1 s)."""
    bar = _Recording(verbose=1)
    seconds = _slow_fit(bar)
    assert seconds > 0.5, "the fit was too quick to show progress"
    assert bar.reports, "no report from within an epoch"
    for epoch, done, total, _ in bar.reports:
        assert total == 1250 and 1 <= done <= total and epoch in (0, 1)
    times = [t for *_, t in bar.reports]
    assert len(times) <= seconds / 0.1 + 2  # at most one report per 0.1 s
    assert all(b - a >= 0.09 for a, b in zip(times, times[1:]))
    dones = [(e, d) for e, d, *_ in bar.reports]
    assert dones == sorted(dones)
    err = capsys.readouterr().err
    assert re.search(r"\| [01]\.\d\d?/2 \[", err), err[-500:]  # a fraction of an epoch on the bar
    assert "2/2" in err


def test_no_report_without_a_bar_on_screen(capsys):
    bar = _Recording(verbose=2)  # lines only: the loop gets no hook
    _slow_fit(bar, epochs=1)
    assert bar.reports == []
