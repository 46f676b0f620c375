"""A model trained by ``python -m fastmlp train`` is complete in its file: standardization
(fm.Normalization layers), class labels and feature names are in it, no side file is written, and
``fastmlp predict``, ``fm.load(path).predict`` on the raw rows and onnxruntime on
``fm.onnx.export`` of the same file agree. A model of an earlier version, with its labels file
(classes and scaler), still predicts, evaluates and exports as before."""

import json

import numpy as np
import pytest

import fastmlp as fm
from fastmlp.cli import labels as cli_labels
from test_cli import read_csv, run


def write_csv(path, header, X, y):
    rows = [",".join(header)] + [",".join(map(repr, x)) + f",{t}" for x, t in zip(X.tolist(), y.tolist())]
    path.write_text("\n".join(rows) + "\n")


def onnx_run(model, X, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    from fastmlp import onnx as fm_onnx

    fm_onnx.export(model, tmp_path / "api.onnx")
    sess = ort.InferenceSession(str(tmp_path / "api.onnx"), providers=["CPUExecutionProvider"])
    return sess.run(None, {sess.get_inputs()[0].name: np.asarray(X, dtype=model.dtype)})[0]


def test_a_csv_classifier_with_string_classes_is_complete_in_its_file(tmp_path):
    rng = np.random.default_rng(11)
    X = rng.normal(loc=[500.0, -3.0, 40.0], scale=[100.0, 0.01, 5.0], size=(120, 3))  # far from standardized
    y = np.array(["ant", "bee", "cow"])[(X[:, 0] > 500).astype(int) + (X[:, 1] > -3)]
    write_csv(tmp_path / "train.csv", ["a", "b", "c", "kind"], X, y)
    done = run("train", "train.csv", "--epochs", "30", "--no-progress", "--out", "m.safetensors", cwd=tmp_path, check=0)
    assert "model saved to m.safetensors\n" in done.stdout
    said = [line.split(":")[0] for line in done.stdout.splitlines()]
    assert said[:4] == ["data", "task", "model", "standardized"] and said[4].startswith("trained 30 epochs")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.safetensors", "train.csv"]  # no side file

    model = fm.load(tmp_path / "m.safetensors")
    assert model.classes_.tolist() == ["ant", "bee", "cow"] and list(model.feature_names_in_) == ["a", "b", "c"]
    norm = model.layers[0]
    assert isinstance(norm, fm.Normalization) and not norm.invert
    np.testing.assert_allclose(norm.mean, X.mean(axis=0), rtol=1e-6)  # float32 in the file
    np.testing.assert_allclose(norm.variance, X.var(axis=0), rtol=1e-5)

    run("predict", "m.safetensors", "train.csv", "--out", "pred.csv", cwd=tmp_path, check=0)
    _, rows = read_csv(tmp_path / "pred.csv")
    cli_pred = [r[0] for r in rows]
    api_pred = model.predict(X).tolist()  # the raw rows
    assert cli_pred == api_pred
    assert np.mean(np.array(api_pred) == y) > 0.8  # it learned: standardization reached the fit
    proba = onnx_run(model, X, tmp_path)
    np.testing.assert_allclose(proba, model.predict_proba(X), atol=2e-6)
    assert model.classes_[proba.argmax(axis=1)].tolist() == cli_pred
    run("predict", "m.safetensors", "train.csv", "--proba", "--out", "p.csv", cwd=tmp_path, check=0)
    header, body = read_csv(tmp_path / "p.csv")
    assert header == ["p_ant", "p_bee", "p_cow"]
    np.testing.assert_allclose(np.array(body, float), proba, atol=2e-6)
    ev = json.loads(run("evaluate", "m.safetensors", "train.csv", "--json", cwd=tmp_path, check=0).stdout)
    assert ev["accuracy"] == pytest.approx(np.mean(np.array(api_pred) == y))


def test_a_csv_regression_gives_the_targets_units_from_the_file_alone(tmp_path):
    rng = np.random.default_rng(12)
    X = rng.normal(loc=[10.0, -4.0], scale=[3.0, 0.1], size=(200, 2))
    y = 1000 + 300 * X[:, 0] - 5000 * X[:, 1] + rng.normal(scale=5, size=200)
    write_csv(tmp_path / "train.csv", ["u", "v", "price"], X, y)
    args = ("--epochs", "40", "--dtype", "float64", "--no-progress", "--out", "r.safetensors")
    run("train", "train.csv", *args, cwd=tmp_path, check=0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.safetensors", "train.csv"]

    model = fm.load(tmp_path / "r.safetensors")
    first, last = model.layers[0], model.layers[-1]
    assert isinstance(first, fm.Normalization) and isinstance(last, fm.Normalization) and last.invert
    np.testing.assert_allclose([last.mean[0], last.variance[0]], [y.mean(), y.var()], rtol=1e-12)
    api = model.predict(X).ravel()
    run("predict", "r.safetensors", "train.csv", "--out", "p.csv", cwd=tmp_path, check=0)
    header, rows = read_csv(tmp_path / "p.csv")
    assert header == ["prediction"]
    np.testing.assert_allclose(np.array(rows, float)[:, 0], api, rtol=1e-12)
    np.testing.assert_allclose(onnx_run(model, X, tmp_path)[:, 0], api, rtol=1e-10)
    r2 = 1 - np.sum((api - y) ** 2) / np.sum((y - y.mean()) ** 2)
    assert r2 > 0.9, r2  # in the target's units, trained with the loss in them
    ev = json.loads(run("evaluate", "r.safetensors", "train.csv", "--json", cwd=tmp_path, check=0).stdout)
    assert ev["r2"] == pytest.approx(r2, rel=1e-9) and ev["loss"] == pytest.approx(ev["mse"], rel=1e-9)

    # the fit's loss is on the standardized target: SGD's default learning rate suits a target of std ~1000
    # (with the loss in the target's units it diverged in the first epoch)
    done = run("train", "train.csv", "--optimizer", "sgd", *args, cwd=tmp_path, check=0)
    assert "(losses on the standardized target)" in done.stdout
    sgd = fm.load(tmp_path / "r.safetensors").predict(X).ravel()
    assert 1 - np.sum((sgd - y) ** 2) / np.sum((y - y.mean()) ** 2) > 0.95


def test_an_old_model_with_its_labels_file_and_scaler_predicts_as_before(tmp_path):
    """A model trained before the Normalization layers: plain Dense layers, and a format-2 labels file
    with the features' and the target's scaler. predict, evaluate, info and export-onnx apply it."""
    rng = np.random.default_rng(13)
    X = rng.normal(loc=[50.0, 7.0], scale=[20.0, 0.5], size=(30, 2))
    y = 3 * X[:, 0] + rng.normal(size=30)
    model = fm.Sequential([fm.Dense(2, 4, "tanh"), fm.Dense(4, 1)], dtype="float64", seed=3)
    model.save(tmp_path / "old.safetensors")
    x_mean, x_scale, y_mean, y_scale = [50.0, 7.0], [20.0, 0.5], [150.0], [60.0]
    (tmp_path / "old.labels.json").write_text(
        json.dumps(
            {
                "fastmlp_labels": 2,
                "model_sha256": cli_labels._sha256(str(tmp_path / "old.safetensors")),
                "task": "regress",
                "classes": None,
                "target": "y",
                "features": ["a", "b"],
                "scaler": {
                    "features": {"mean": x_mean, "scale": x_scale},
                    "target": {"mean": y_mean, "scale": y_scale},
                },
            }
        )
    )
    expected = model.predict((X - x_mean) / x_scale).ravel() * y_scale[0] + y_mean[0]
    rows = ["b,y,a"] + [f"{b!r},{t!r},{a!r}" for (a, b), t in zip(X.tolist(), y.tolist())]  # by name, target inside
    (tmp_path / "d.csv").write_text("\n".join(rows) + "\n")
    run("predict", "old.safetensors", "d.csv", "--out", "p.npy", cwd=tmp_path, check=0)
    np.testing.assert_allclose(np.load(tmp_path / "p.npy"), expected, rtol=1e-12)
    ev = json.loads(run("evaluate", "old.safetensors", "d.csv", "--json", cwd=tmp_path, check=0).stdout)
    assert ev["mse"] == pytest.approx(np.mean((expected - y) ** 2), rel=1e-9)
    info = run("info", "old.safetensors", cwd=tmp_path, check=0).stdout
    assert "standardized: features and target (evaluate and predict apply it)" in info and "target: y" in info
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    run("export-onnx", "old.safetensors", "old.onnx", cwd=tmp_path, check=0)
    sess = ort.InferenceSession(str(tmp_path / "old.onnx"), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(sess.run(None, {"input": X})[0][:, 0], expected, rtol=1e-12)

    # training again at the same path replaces the model: its old labels file goes with it
    np.savez(tmp_path / "new.npz", X=X, y=y)
    run("train", "new.npz", "--epochs", "1", "--no-progress", "--out", "old.safetensors", cwd=tmp_path, check=0)
    assert not (tmp_path / "old.labels.json").exists()
    done = run("predict", "old.safetensors", "new.npz", cwd=tmp_path, check=0)
    assert "warning" not in done.stderr
    again = fm.load(tmp_path / "old.safetensors").predict(X).ravel()
    np.testing.assert_allclose(np.array(done.stdout.splitlines()[1:], float), again, rtol=1e-6)
