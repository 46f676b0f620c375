"""Audit F11, the command line's part: a model too large for the machine is one line and exit 2
(it printed a MemoryError traceback with exit 1), and so is any MemoryError a command meets."""

import types

import pytest

import fastmlp as fm
from fastmlp import cli
from fastmlp.cli.common import physical_memory
from test_cli import run


@pytest.mark.skipif(physical_memory() is None, reason="the OS does not say how much memory there is")
@pytest.mark.parametrize("extra", [[], ["--optimizer", "sgd"], ["--dtype", "float64"]])
def test_train_with_layers_beyond_the_memory_is_one_line_and_exit_2(tmp_path, extra):
    (tmp_path / "d.csv").write_text("a,b,y\n1,2,0\n3,4,1\n5,6,0\n7,8,1\n")
    done = run("train", "d.csv", "--layers", "1000000000", "--no-progress", *extra, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(
        "fastmlp train: error: --layers 1000000000: the model would have 4,000,000,001 parameters"
    )
    assert "more than this machine's" in lines[0] and "GiB of memory" in lines[0]
    assert not (tmp_path / "model.safetensors").exists()


def test_a_memory_error_in_any_command_is_one_line_and_exit_2(capsys):
    def command(args):
        raise MemoryError("std::bad_alloc")

    assert cli._run(types.SimpleNamespace(func=command), "fastmlp predict", fm) == 2
    err = capsys.readouterr().err
    expected = (
        "fastmlp predict: error: out of memory (std::bad_alloc): the model or the data is too large for this machine"
    )
    assert err == expected + "\n"


def test_no_command_writes_over_the_file_it_reads(tmp_path):
    """Audit: `export-onnx m.safetensors m.safetensors` replaced the model by its ONNX graph, `predict
    m d.csv --out d.csv` the data by the predictions, `train d.csv --out d.csv` failed only after
    training. Each is one line, exit 2, before anything is read or written; the files are unchanged."""
    (tmp_path / "d.csv").write_text("a,b,y\n1,2,0\n3,4,1\n5,6,0\n7,8,1\n")
    fm.Sequential([fm.Dense(2, 1, "sigmoid")], seed=0).save(tmp_path / "m.safetensors")
    (tmp_path / "m").write_bytes((tmp_path / "m.safetensors").read_bytes())  # a model file without extension
    files = {name: (tmp_path / name).read_bytes() for name in ("d.csv", "m.safetensors", "m")}
    commands = [
        (["export-onnx", "m.safetensors", "m.safetensors"], "is the input file m.safetensors"),
        (["export-onnx", "m", "m"], "is the input file m"),
        (["export-onnx", "m.safetensors", "other.safetensors"], "export writes ONNX, not safetensors"),
        (["predict", "m.safetensors", "d.csv", "--out", "d.csv"], "--out d.csv is the input file d.csv"),
        (["evaluate", "m.safetensors", "d.csv", "--confusion-matrix", "d.csv"], "is the input file d.csv"),
        (["train", "d.csv", "--out", "d.csv", "--no-progress"], "--out d.csv is the input file d.csv"),
        (["train", "d.csv", "--plot", "d.csv", "--no-progress"], "--plot d.csv is the input file d.csv"),
        (["train", "d.csv", "--out", "m.onnx", "--no-progress"], "save writes the safetensors format, not ONNX"),
    ]
    for args, needle in commands:
        done = run(*args, cwd=tmp_path)
        assert done.returncode == 2, (args, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and needle in lines[0], (args, done.stderr)
        assert "trained" not in done.stdout, args  # refused before training
    assert {name: (tmp_path / name).read_bytes() for name in files} == files
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.csv", "m", "m.safetensors"]


def test_onnx_export_refuses_a_model_files_name(tmp_path):
    """fm.onnx.export(model, "x.safetensors") wrote ONNX over a model file's name (audit)."""
    pytest.importorskip("onnx")
    model = fm.Sequential([fm.Dense(2, 1, "sigmoid")], seed=0)
    model.save(tmp_path / "m.safetensors")
    before = (tmp_path / "m.safetensors").read_bytes()
    with pytest.raises(ValueError, match="export writes ONNX, not safetensors"):
        fm.onnx.export(model, tmp_path / "m.SafeTensors")
    assert (tmp_path / "m.safetensors").read_bytes() == before


def test_an_image_name_matplotlib_cannot_write_is_refused_before_training(tmp_path):
    """Audit: `train --plot loss.txt` (or a .safetensors name) trained and saved, then failed with
    matplotlib's "Format 'txt' is not supported" and exit 2; `evaluate --confusion-matrix cm.csv` alike."""
    pytest.importorskip("matplotlib")
    (tmp_path / "d.csv").write_text("a,b,y\n1,2,0\n3,4,1\n5,6,0\n7,8,1\n")
    fm.Sequential([fm.Dense(2, 1, "sigmoid")], seed=0).save(tmp_path / "m.safetensors")
    for args, option in (
        (["train", "d.csv", "--out", "new.safetensors", "--plot", "loss.txt", "--no-progress"], "--plot loss.txt"),
        (["evaluate", "m.safetensors", "d.csv", "--confusion-matrix", "cm.csv"], "--confusion-matrix cm.csv"),
    ):
        done = run(*args, cwd=tmp_path)
        lines = done.stderr.strip().splitlines()
        assert done.returncode == 2 and len(lines) == 1, done.stderr
        assert f"{option}: matplotlib writes" in lines[0] and "png" in lines[0], lines[0]
        assert "trained" not in done.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.csv", "m.safetensors"]
