"""ModelCheckpoint into folders that do not exist: created at the save, as Keras's ModelCheckpoint does
(a user's complaint: the fit failed only after its first epoch had trained). The save stays atomic."""

import os

import numpy as np
import pytest

import fastmlp as fm

X = np.random.default_rng(0).normal(size=(30, 3))
y = np.arange(30) % 2


def _model():
    return fm.Sequential([fm.Dense(3, 2, "softmax")], seed=0)


def test_a_missing_folder_is_created_at_the_save(tmp_path):
    path = tmp_path / "no" / "such" / "folder" / "m.safetensors"
    model = _model()
    checkpoint = fm.callbacks.ModelCheckpoint(path, monitor="loss", save_best_only=False)
    model.fit(X, y, epochs=2, callbacks=[checkpoint])
    assert checkpoint.saved == [str(path)] * 2
    np.testing.assert_array_equal(fm.load(path).params, model.params)


def test_a_folder_per_epoch_from_the_template(tmp_path):
    template = str(tmp_path / "runs" / "{epoch:02d}" / "m.safetensors")
    checkpoint = fm.callbacks.ModelCheckpoint(template, monitor="loss", save_best_only=False)
    _model().fit(X, y, epochs=3, callbacks=[checkpoint])
    assert sorted(os.listdir(tmp_path / "runs")) == ["01", "02", "03"]
    assert all(os.path.isfile(p) for p in checkpoint.saved)


def test_a_refused_fit_makes_no_folder(tmp_path):
    """The folders are made at a save, so a fit refused before its first epoch leaves none."""
    folder = tmp_path / "new"
    checkpoint = fm.callbacks.ModelCheckpoint(folder / "m.safetensors", monitor="val_loss")
    with pytest.raises(ValueError, match="needs validation"):
        _model().fit(X, y, epochs=1, callbacks=[checkpoint])
    assert not folder.exists()


def test_a_name_save_refuses_makes_no_folder(tmp_path):
    folder = tmp_path / "new"
    checkpoint = fm.callbacks.ModelCheckpoint(folder / "m.keras", monitor="loss")
    with pytest.raises(ValueError, match="safetensors format only"):
        _model().fit(X, y, epochs=1, callbacks=[checkpoint])
    assert not folder.exists()


@pytest.mark.parametrize("name", ["m.keras", "m-{epoch}.h5", "m.onnx"])
def test_a_name_save_refuses_fails_before_the_first_epoch(tmp_path, name):
    """The extension is checked when the fit begins (the template formatted with stand-in values), so
    no epoch trains for a checkpoint that could never save: the weights and the epoch count stay."""
    model = _model()
    model.fit(X, y, epochs=1)
    before = np.array(model.params, copy=True)
    trained = []
    record = fm.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: trained.append(epoch))
    checkpoint = fm.callbacks.ModelCheckpoint(tmp_path / name, monitor="loss")
    with pytest.raises(ValueError, match="safetensors format only"):
        model.fit(X, y, epochs=2, callbacks=[record, checkpoint])
    assert trained == []
    np.testing.assert_array_equal(model.params, before)
    assert os.listdir(tmp_path) == []


def test_saves_into_a_new_folder_stay_atomic(tmp_path):
    """Each save writes a temporary file beside the target and renames it over the target (a new
    inode; the old file stays whole until the rename), leaving nothing else in the new folder."""
    path = tmp_path / "a" / "b" / "m.safetensors"
    inodes = []
    checkpoint = fm.callbacks.ModelCheckpoint(path, monitor="loss", save_best_only=False)
    record = fm.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: inodes.append(os.stat(path).st_ino))
    _model().fit(X, y, epochs=3, callbacks=[checkpoint, record])
    assert len(inodes) == 3 and all(a != b for a, b in zip(inodes, inodes[1:]))  # (a freed inode may come back)
    assert os.listdir(path.parent) == ["m.safetensors"]


def test_model_save_itself_makes_no_folder(tmp_path):
    """Only the checkpoint creates folders (as in Keras); model.save keeps its FileNotFoundError."""
    with pytest.raises(FileNotFoundError):
        _model().save(tmp_path / "missing" / "m.safetensors")
    assert not (tmp_path / "missing").exists()


@pytest.mark.parametrize(
    "template, ext",
    [("ck/m-{epoch}-{loss:.3f}", ".000"), ("ck/m-{epoch:02d}-{loss:.2f}.keras", ".keras")],
)
def test_the_refusal_names_the_template_not_a_stand_in(tmp_path, template, ext):
    """The extension is checked on the template filled with stand-in values (epoch 1, metrics 0.0); the
    error names the template itself and asks for '.safetensors' at its end (not a stand-in file name)."""
    checkpoint = fm.callbacks.ModelCheckpoint(str(tmp_path / template), monitor="loss")
    with pytest.raises(ValueError) as refused:
        _model().fit(X, y, epochs=1, callbacks=[checkpoint])
    message = str(refused.value)
    assert repr(str(tmp_path / template)) in message and repr(ext) in message
    assert "end the template in '.safetensors'" in message
