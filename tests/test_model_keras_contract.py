"""Issue 28, deliverable 5 and the model side of 4: what Keras / scikit-learn users expect of
summary(), one 1-D sample, save() to a foreign extension, help() of every public method, and
fit(verbose=0|1|2)."""

import inspect
import re

import numpy as np
import pytest

import fastmlp as fm

X = np.random.default_rng(0).normal(size=(60, 3))
y = (X[:, 0] > 0).astype(int)


def _model():
    return fm.Sequential([fm.Dense(3, 4, "relu"), fm.Dense(4, 2, "softmax")], seed=0)


# --- summary() prints once and returns None ---
def test_summary_prints_once_and_returns_none(capsys):
    model = _model()
    assert model.summary() is None
    out = capsys.readouterr().out
    assert out.count('Model: "sequential"') == 1 and "dense_1 (Dense)" in out


def test_summary_print_fn_gets_the_table_and_none_returns_it(capsys):
    lines = []
    assert _model().summary(print_fn=lines.append) is None
    assert len(lines) == 1 and "Total params: 26" in lines[0]
    assert _model().summary(print_fn=None) == lines[0]
    assert capsys.readouterr().out == ""


# --- one 1-D sample: scikit-learn's hint ---
HINT = "array.reshape(1, -1) if it contains a single sample"


@pytest.mark.parametrize("dtype", [np.float32, np.float64, None])
@pytest.mark.parametrize("method", ["predict", "predict_proba", "forward", "__call__"])
def test_one_1d_sample_gets_the_reshape_hint(method, dtype):
    model = _model()
    x = [0.1, 0.2, 0.3] if dtype is None else np.array([0.1, 0.2, 0.3], dtype=dtype)
    with pytest.raises(ValueError, match=re.escape(HINT)) as e:
        getattr(model, method)(x)
    assert "array.reshape(-1, 1) if your data has a single feature" in str(e.value)
    np.testing.assert_array_equal(model.predict(np.reshape(x, (1, -1))), model.predict([x]))


def test_fit_with_1d_x_gets_the_hint():
    with pytest.raises(ValueError, match=re.escape(HINT)):
        _model().fit(X[:, 0], y, epochs=1)


# --- save() to a foreign extension ---
@pytest.mark.parametrize("name", ["m.keras", "m.h5", "m.pt", "m.pth", "m.bin"])
def test_save_to_another_format_raises_and_writes_nothing(tmp_path, name):
    path = tmp_path / name
    with pytest.raises(ValueError, match="safetensors") as e:
        _model().save(path)
    assert repr(str(path)) in str(e.value) and "m.safetensors" in str(e.value)
    assert not path.exists()
    with pytest.raises(ValueError, match="safetensors"):
        fm.save(_model(), path)
    assert list(tmp_path.iterdir()) == []


def test_save_to_onnx_points_to_the_export(tmp_path):
    with pytest.raises(ValueError, match=r"fm\.onnx\.export\(model, path\).*export-onnx"):
        _model().save(tmp_path / "m.onnx")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["m.safetensors", "m.SafeTensors", "model", "run.1.safetensors"])
def test_save_to_safetensors_or_no_extension_writes(tmp_path, name):
    model = _model()
    model.save(tmp_path / name)
    np.testing.assert_array_equal(fm.load(tmp_path / name).params, model.params)


# --- help() documents every parameter ---
def _documented(doc: str) -> list:
    """The parameter names of a numpydoc "Parameters" section."""
    lines = inspect.cleandoc(doc).splitlines()
    start = lines.index("Parameters") + 2
    assert set(lines[start - 1]) == {"-"}
    names = []
    for i in range(start, len(lines)):
        line = lines[i]
        if i + 1 < len(lines) and lines[i + 1] and set(lines[i + 1]) == {"-"}:
            break  # the next section
        if line and not line[0].isspace():
            names += [n.strip() for n in line.split(" : ")[0].split(",")]
    return names


def _signature(f) -> list:
    P = inspect.Parameter
    names = {P.VAR_KEYWORD: "**{}", P.VAR_POSITIONAL: "*{}"}
    params = inspect.signature(f).parameters.values()
    return [names.get(p.kind, "{}").format(p.name) for p in params if p.name != "self"]


@pytest.mark.parametrize(
    "name", ["__init__", "fit", "partial_fit", "evaluate", "predict", "predict_proba", "forward", "save"]
)
def test_every_parameter_is_documented(name):
    f = getattr(fm.Sequential, name)
    doc = fm.Sequential.__doc__ if name == "__init__" else f.__doc__
    assert _documented(doc) == _signature(f)


def test_the_documentation_checker_sees_a_missing_parameter():
    def f(a, b, c=1):
        """Parameters
        ----------
        a : int
            The a.
        c : int
            The c.

        Returns
        -------
        int
        """

    assert _documented(f.__doc__) == ["a", "c"] != _signature(f)


# --- fit(verbose=0|1|2): Keras's contract ---
def test_fit_verbose_2_is_one_line_per_epoch_and_no_bar(capsys):
    h = _model().fit(X, y, epochs=3, validation_split=0.25, verbose=2)
    out, err = capsys.readouterr()
    assert [line.split("  ")[0] for line in out.splitlines()] == ["epoch 1/3", "epoch 2/3", "epoch 3/3"]
    assert h.epochs == 3 and err == ""  # no tqdm bar (it writes to stderr)


def test_fit_verbose_0_is_silent_and_1_is_the_bar(capsys):
    _model().fit(X, y, epochs=2, verbose=0)
    assert capsys.readouterr() == ("", "")
    _model().fit(X, y, epochs=2, verbose=1)
    out, err = capsys.readouterr()
    assert len(out.splitlines()) == 2 and "2/2" in err


@pytest.mark.parametrize("bad", [3, "2"])
def test_fit_verbose_must_be_0_1_or_2_and_changes_nothing(bad):
    model = fm.Sequential([fm.Dense(4, "relu"), fm.Dense(2, "softmax")], seed=0)
    with pytest.raises(ValueError, match="verbose must be 0, 1 or 2"):
        model.fit(X, y, epochs=1, verbose=bad)
    assert not model.built and model.epochs_trained == 0
