"""Audit F7: a save that fails inside a fit's callback raises what the same save raises outside fit
(FileNotFoundError, PermissionError ...: the OSError subclass of its errno), not pybind11's
RuntimeError "MISMATCH ... OSError REPLACED BY FileNotFoundError"."""

import numpy as np
import pytest

import fastmlp as fm


def _model():
    return fm.Sequential([fm.Dense(3, 2, "softmax")], seed=0)


X = np.random.default_rng(0).normal(size=(20, 3))
y = np.arange(20) % 2


def _outside(path):
    with pytest.raises(OSError) as outside:
        _model().save(path)
    return outside.value


def _inside(path, how):
    model = _model()
    if how == "checkpoint":
        callbacks = [fm.callbacks.ModelCheckpoint(path, monitor="loss")]
    else:
        callbacks = [fm.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: model.save(path))]
    with pytest.raises(OSError) as inside:
        model.fit(X, y, epochs=2, callbacks=callbacks)
    return inside.value


# (ModelCheckpoint creates missing folders, as Keras's: tests/test_checkpoint_folders.py; model.save does not)
@pytest.mark.parametrize("how", ["lambda"])
def test_a_missing_folder_is_file_not_found_inside_fit_as_outside(tmp_path, how):
    path = tmp_path / "no" / "such" / "folder" / "m.safetensors"
    outside, inside = _outside(path), _inside(path, how)
    assert type(outside) is FileNotFoundError and type(inside) is FileNotFoundError
    assert str(inside) == str(outside) and inside.errno == outside.errno


@pytest.mark.parametrize("how", ["checkpoint", "lambda"])
def test_a_file_in_the_way_is_not_a_directory_inside_fit_as_outside(tmp_path, how):
    (tmp_path / "file").write_text("a file, not a folder")
    path = tmp_path / "file" / "m.safetensors"
    outside, inside = _outside(path), _inside(path, how)
    assert type(outside) is NotADirectoryError and type(inside) is NotADirectoryError
    assert str(inside) == str(outside)
