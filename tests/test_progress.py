"""Keras's ``verbose`` contract (fastmlp.callbacks.ProgressBar and ``train --verbose``): 1 a bar, with
each epoch's metrics (val ones included) on a line of at most 80 columns above it; 2 one line per
epoch; 0 nothing; what callbacks print comes out as whole lines, not garbled with the bar."""

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
