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
