"""`python -m fastmlp demo --plot PATH` checks PATH before training, as `train --plot` does: a folder
that does not exist, a folder, or a format matplotlib cannot write was found only after the whole
training run (with matplotlib's message, or "no such file" for a missing folder)."""

import pytest

from fastmlp.cli import main

pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")


@pytest.mark.parametrize(
    "plot, message",
    [
        ("missing/loss.png", "does not exist"),
        (".", "is a folder"),
        ("loss.safetensors", "matplotlib writes"),
    ],
)
def test_a_plot_path_that_cannot_be_written_is_refused_before_training(tmp_path, monkeypatch, capsys, plot, message):
    monkeypatch.chdir(tmp_path)
    assert main(["demo", "--epochs", "1", "--plot", plot]) == 2
    captured = capsys.readouterr()
    assert "epoch" not in captured.out  # nothing trained
    assert message in captured.err and len(captured.err.strip().splitlines()) == 1
