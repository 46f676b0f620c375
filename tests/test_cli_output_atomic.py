"""`python -m fastmlp predict --out FILE` replaces an existing FILE atomically, as model files are saved:
the predictions are written whole to a temporary file, then renamed over FILE. It opened FILE for
writing first (truncating it) and wrote row by row, so a write that failed or was interrupted part way
(a full disk, Ctrl-C) lost the old file and left a partial one."""

import csv

import numpy as np
import pytest

import fastmlp.cli.commands as commands
from fastmlp.cli import main

_csv_writer = csv.writer


@pytest.fixture
def model(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    rows = ["x1,x2,x3,label"] + [f"{a!r},{b!r},{c!r},{'ab'[int(a > 0)]}" for a, b, c in X.tolist()]
    (tmp_path / "train.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "new.csv").write_text("\n".join(r.rsplit(",", 1)[0] for r in rows) + "\n")
    path = tmp_path / "m.safetensors"
    args = ["train", str(tmp_path / "train.csv"), "--target", "label", "--epochs", "2", "--verbose", "0"]
    assert main([*args, "--out", str(path)]) == 0
    return path


class _FailingWriter:
    """csv.writer's stand-in: the header row goes through, the rows are interrupted."""

    def __init__(self, f, **kw):
        self.writer = _csv_writer(f, **kw)

    def writerow(self, row):
        self.writer.writerow(row)

    def writerows(self, rows):
        for i, row in enumerate(rows):
            if i == 3:
                raise KeyboardInterrupt
            self.writer.writerow(row)


@pytest.mark.parametrize("suffix", [".csv", ".tsv"])
def test_an_interrupted_write_keeps_the_old_predictions(tmp_path, monkeypatch, model, suffix):
    out = tmp_path / f"predictions{suffix}"
    out.write_text("the old predictions\n")
    monkeypatch.setattr(commands.csv, "writer", _FailingWriter)
    assert main(["predict", str(model), str(tmp_path / "new.csv"), "--out", str(out)]) == 130
    assert out.read_text() == "the old predictions\n"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("predictions")) == [out.name]


def test_a_failed_npy_write_keeps_the_old_file(tmp_path, monkeypatch, model):
    out = tmp_path / "p.npy"
    np.save(out, np.arange(3))

    def failing_save(file, arr, **kw):
        np.lib.format.write_array_header_1_0(file, np.lib.format.header_data_from_array_1_0(np.asarray(arr)))
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "save", failing_save)
    assert main(["predict", str(model), str(tmp_path / "new.csv"), "--out", str(out)]) == 2
    np.testing.assert_array_equal(np.load(out), np.arange(3))


def test_predictions_are_written_whole(tmp_path, model):
    for name in ("p.csv", "p.tsv", "p.npy"):
        out = tmp_path / name
        out.write_text("old")
        assert main(["predict", str(model), str(tmp_path / "new.csv"), "--out", str(out), "--proba"]) == 0
        table = (
            np.load(out)
            if name.endswith(".npy")
            else np.loadtxt(out, delimiter="\t" if "tsv" in name else ",", skiprows=1)
        )
        assert table.shape == (40, 2)
        np.testing.assert_allclose(table.sum(axis=1), 1, rtol=1e-6)
