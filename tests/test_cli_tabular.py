"""The CLI on a CSV with text columns and empty cells (python/fastmlp/cli/frame.py): train builds
the model with the tabular layers (fm.Normalization, fm.ColumnEmbedding(fill_missing=True)), and
predict, evaluate, fm.load(...).predict on the raw rows and onnxruntime on export-onnx's graph give
the same predictions, unseen categories and empty cells included."""

from __future__ import annotations

import json
import os
import sys

import numpy as np
import pytest

import fastmlp as fm
from fastmlp import cli
from fastmlp.cli import frame as cli_frame

pd = pytest.importorskip("pandas")
sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir, "bench"))
import bench_tabular  # noqa: E402

from test_cli import run  # noqa: E402
from test_tabular import onnx_feed  # noqa: E402


def mixed_csvs(folder, target="class"):
    """train.csv (1200 rows) and test.csv (300 rows, with unseen categories and more empty cells)
    of bench_tabular's table; ``target``: "class" (3 strings) or "score" (a number: regression)."""
    X, y = bench_tabular.make_table(1500, 0)
    df = X.copy()
    if target == "class":
        df["class"] = y
    train, test = df.iloc[:1200].copy(), df.iloc[1200:].copy()
    test.loc[test.index[:5], "city"] = ["nowhere", "city_999", None, "atlantis", "nowhere"]
    test.loc[test.index[5:9], "color"] = ["purple", None, "red", "teal"]
    test.loc[test.index[9:12], "age"] = np.nan
    test.loc[test.index[12:14], "ratio"] = np.nan  # no empty cell at training: filled with the median
    if target == "score":
        train, test = train.dropna(subset=["score"]), test.dropna(subset=["score"])
    train.to_csv(folder / "train.csv", index=False)
    test.to_csv(folder / "test.csv", index=False)
    return folder / "train.csv", folder / "test.csv"


def raw_rows(path, target):
    return pd.read_csv(path).drop(columns=[target])


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tabular")
    train, test = mixed_csvs(folder)
    out = run(
        "train", train, "--target", "class", "--epochs", "8", "--validation-split", "0.2", "--out", "m.safetensors",
        cwd=folder, check=0,
    )  # fmt: skip
    assert "4 categorical" in out.stdout
    return folder, train, test


def test_train_builds_the_tabular_model(classifier):
    folder, _, _ = classifier
    model = fm.load(folder / "m.safetensors")
    assert isinstance(model.layers[0], fm.Normalization) and not model.layers[0].invert
    layer = model.layers[1]
    assert isinstance(layer, fm.ColumnEmbedding) and layer.fill_missing
    kinds = {c["name"]: c["kind"] for c in layer.columns.columns}
    assert kinds == {
        "income": "number", "age": "number", "ratio": "number", "score": "number",
        "city": "category", "color": "category", "grade": "category", "member": "category",
    }  # fmt: skip
    assert list(model.classes_) == ["high", "low", "mid"]
    # the vocabularies are the training rows' (--validation-split keeps the last 20% out of them)
    assert "nowhere" not in layer.columns.columns[4]["categories"]
    assert not os.path.exists(folder / "m.labels.json")


def test_predict_equals_fm_load_on_raw_rows(classifier):
    folder, _, test = classifier
    model = fm.load(folder / "m.safetensors")
    df = raw_rows(test, "class")
    want = model.predict(df)
    assert (want == model.predict(df)).all() and len(set(want)) > 1
    run("predict", "m.safetensors", test, "--out", "pred.csv", cwd=folder, check=0)
    got = pd.read_csv(folder / "pred.csv")["prediction"].to_numpy()
    assert got.tolist() == want.tolist()
    run("predict", "m.safetensors", test, "--proba", "--out", "proba.csv", cwd=folder, check=0)
    proba = pd.read_csv(folder / "proba.csv")
    assert list(proba.columns) == ["p_high", "p_low", "p_mid"]
    np.testing.assert_array_equal(proba.to_numpy().astype(np.float32), model.forward(df))  # 9 digits: exact


def test_predict_reads_columns_by_name(classifier):
    folder, _, test = classifier
    df = raw_rows(test, "class")
    shuffled = df[list(reversed(df.columns))].assign(extra="x")  # another order, an extra column, no target
    shuffled.to_csv(folder / "shuffled.csv", index=False)
    run("predict", "m.safetensors", "shuffled.csv", "--out", "p2.csv", cwd=folder, check=0)
    got = pd.read_csv(folder / "p2.csv")["prediction"].tolist()
    assert got == fm.load(folder / "m.safetensors").predict(df).tolist()
    df.drop(columns=["city"]).to_csv(folder / "nocity.csv", index=False)
    out = run("predict", "m.safetensors", "nocity.csv", cwd=folder, check=2)
    assert "no column 'city'" in out.stderr


def test_evaluate_matches_the_predictions(classifier):
    folder, _, test = classifier
    model = fm.load(folder / "m.safetensors")
    df = pd.read_csv(test)
    accuracy = float(np.mean(model.predict(df.drop(columns=["class"])) == df["class"].to_numpy()))
    out = run("evaluate", "m.safetensors", test, "--json", cwd=folder, check=0)
    assert json.loads(out.stdout)["accuracy"] == pytest.approx(accuracy, abs=1e-12)
    assert accuracy > 0.45  # 3 classes: better than chance after 8 epochs


def test_export_onnx_equals_it_in_onnxruntime(classifier):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    folder, _, test = classifier
    out = run("export-onnx", "m.safetensors", "m.onnx", cwd=folder, check=0)
    assert "'city'" in out.stdout
    model = fm.load(folder / "m.safetensors")
    df = raw_rows(test, "class")
    sess = ort.InferenceSession(str(folder / "m.onnx"), providers=["CPUExecutionProvider"])
    probabilities, labels = sess.run(["output", "label"], onnx_feed(df, model))
    np.testing.assert_allclose(probabilities, model.forward(df), rtol=1e-5, atol=1e-6)
    assert labels.tolist() == model.predict(df).tolist()


def test_regression_with_text_columns(tmp_path):
    train, test = mixed_csvs(tmp_path, target="score")
    run("train", train, "--target", "score", "--epochs", "5", "--out", "r.safetensors", cwd=tmp_path, check=0)
    model = fm.load(tmp_path / "r.safetensors")
    assert isinstance(model.layers[-1], fm.Normalization) and model.layers[-1].invert  # target units
    df = raw_rows(test, "score")
    run("predict", "r.safetensors", test, "--out", "pred.npy", cwd=tmp_path, check=0)
    np.testing.assert_array_equal(np.load(tmp_path / "pred.npy"), model.predict(df).reshape(-1))
    out = run("evaluate", "r.safetensors", test, "--json", cwd=tmp_path, check=0)
    mse = float(np.mean((model.predict(df).reshape(-1).astype(np.float64) - pd.read_csv(test)["score"]) ** 2))
    assert json.loads(out.stdout)["mse"] == pytest.approx(mse, rel=1e-9)


def test_no_standardize_and_numeric_csv_with_empty_cells(tmp_path):
    rng = np.random.default_rng(1)
    df = pd.DataFrame(rng.normal(size=(200, 3)), columns=["a", "b", "c"])
    df["y"] = (df["a"] + df["b"] > 0).astype(int)
    df.loc[[3, 7, 11], "b"] = np.nan  # numbers only, with empty cells: the tabular path fills them
    df.to_csv(tmp_path / "d.csv", index=False)
    run("train", "d.csv", "--target", "y", "--epochs", "3", "--no-standardize", "--out", "n.safetensors",
        cwd=tmp_path, check=0)  # fmt: skip
    model = fm.load(tmp_path / "n.safetensors")
    assert not any(isinstance(layer, fm.Normalization) for layer in model.layers)
    assert isinstance(model.layers[0], fm.ColumnEmbedding) and model.n_features_in == 4  # a, b, c, b_na
    run("predict", "n.safetensors", "d.csv", "--out", "p.csv", cwd=tmp_path, check=0)
    got = pd.read_csv(tmp_path / "p.csv")["prediction"].tolist()
    assert got == model.predict(pd.read_csv(tmp_path / "d.csv").drop(columns=["y"])).tolist()


def test_numeric_csv_keeps_its_path(tmp_path, monkeypatch):
    """A CSV of numbers only never reaches pandas: the model is the plain MLP of before."""
    rng = np.random.default_rng(2)
    X = rng.normal(size=(120, 3))
    np.savetxt(tmp_path / "n.csv", np.column_stack([X, X[:, 0] > 0]), delimiter=",", header="a,b,c,y", comments="")

    def no_frame(*args, **kwargs):
        raise AssertionError("read a numeric CSV with pandas")

    monkeypatch.setattr(cli_frame, "read_frame", no_frame)
    model_path = str(tmp_path / "n.safetensors")
    assert cli.main(["train", str(tmp_path / "n.csv"), "--epochs", "2", "--no-progress", "--out", model_path]) == 0
    model = fm.load(model_path)
    assert not any(isinstance(layer, fm.ColumnEmbedding) for layer in model.layers)
    assert list(model.feature_names_in_) == ["a", "b", "c"]


def test_without_pandas_the_error_says_to_install_it(tmp_path, monkeypatch, capsys):
    pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "city": ["a", "b", "a", "b"], "y": [0, 1, 0, 1]}).to_csv(
        tmp_path / "t.csv", index=False
    )
    monkeypatch.setattr(cli_frame, "have_pandas", lambda: False)
    assert cli.main(["train", str(tmp_path / "t.csv"), "--out", str(tmp_path / "t.safetensors")]) == 2
    err = capsys.readouterr().err
    assert "'b' is not a number" in err or "'a' is not a number" in err
    assert "pip install pandas" in err
    assert not os.path.exists(tmp_path / "t.safetensors")


def test_text_columns_need_a_header(tmp_path):
    (tmp_path / "h.csv").write_text("1.0,a,0\n2.0,b,1\n3.0,a,0\n")
    out = run("train", "h.csv", "--header", "no", "--out", "h.safetensors", cwd=tmp_path, check=2)
    assert "is not a number" in out.stderr


def test_a_column_of_numbers_and_text_is_refused(tmp_path):
    """A typo in a numeric column is not silently turned into categories."""
    (tmp_path / "typo.csv").write_text("x,city,y\n1.5,a,0\n2.5,b,1\noops,a,0\n3.5,,1\n")
    out = run("train", "typo.csv", "--out", "t.safetensors", cwd=tmp_path, check=2)
    assert "line 4, column 0 ('x'): 'oops' is not a number, but other cells of the column are" in out.stderr
    assert not (tmp_path / "t.safetensors").exists()


def test_infinity_in_a_text_csv_names_the_column(tmp_path):
    (tmp_path / "inf.csv").write_text("x,city,y\n1,a,0\ninf,b,1\n2,,0\n3,a,1\n")
    out = run("train", "inf.csv", "--out", "i.safetensors", cwd=tmp_path, check=2)
    assert "the feature column 'x' holds infinity" in out.stderr
