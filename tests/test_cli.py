"""The command line, run as users run it: ``python -m fastmlp ...`` in a subprocess.

Small data files are written to a temporary folder; training runs a few epochs only.
Every subcommand (train, evaluate, predict, demo, info, --version) has a test, and
the input errors are checked for: exit status 2, one message on stderr, no traceback.
Standardization, the validation split and the defaults' scores: test_cli_scaling.py.
"""

import json
import os

import numpy as np
import pytest

import fastmlp as fm
from fastmlp import cli
from fastmlp.cli import commands as cli_commands
from fastmlp.cli import data as cli_data
from fastmlp.cli import labels as cli_labels
from fastmlp.cli import parser as cli_parser
from helpers_cli import is_png, read_csv, run, scaler

# ----------------------------------------------------------------------------- data


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """A folder with: blobs.csv (header, 2 features, string labels), bin.csv (no header, labels 3/7 in
    column 0), reg.npz (3 features, real targets), cls.npz (2 features, string labels)."""
    d = tmp_path_factory.mktemp("cli")
    rng = np.random.default_rng(0)

    centers = np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 3.0]])
    ids = np.repeat([0, 1, 2], 20)  # sorted by class: the validation split must shuffle
    X = centers[ids] + rng.normal(scale=0.5, size=(60, 2))
    names = np.array(["cat", "dog", "emu"])[ids]
    with open(d / "blobs.csv", "w") as f:
        f.write("x1,x2,animal\n")
        for (a, b), n in zip(X, names):
            f.write(f"{a:.5f},{b:.5f},{n}\n")
    with open(d / "blobs_reordered.csv", "w") as f:  # other column order, target in the middle
        f.write("x2,animal,x1\n")
        for (a, b), n in zip(X, names):
            f.write(f"{b:.5f},{n},{a:.5f}\n")

    Xb = rng.normal(size=(40, 3))
    yb = np.where(Xb[:, 0] + Xb[:, 1] > 0, 7, 3)
    with open(d / "bin.csv", "w") as f:
        for x, label in zip(Xb, yb):
            f.write(f"{label},{x[0]:.5f},{x[1]:.5f},{x[2]:.5f}\n")

    Xr = rng.uniform(-1, 1, size=(50, 3))
    yr = Xr @ np.array([1.5, -2.0, 0.5]) + 0.1
    np.savez(d / "reg.npz", X=Xr, y=yr)

    Xc = rng.normal(size=(40, 2))
    yc = np.where(Xc[:, 0] > 0, "right", "left")
    np.savez(d / "cls.npz", X=Xc, y=yc)
    return d


@pytest.fixture(scope="module")
def blobs_model(data):
    """Train on blobs.csv once (progress bar on, validation, early stopping, plots)."""
    proc = run(
        "train",
        "blobs.csv",
        "--target",
        "animal",
        "--layers",
        "8",
        "--epochs",
        "5",
        "--learning-rate",
        "0.05",
        "--validation-split",
        "0.25",
        "--early-stopping",
        "3",
        "--out",
        "blobs.safetensors",
        "--plot",
        "blobs_loss.png",
        cwd=data,
        check=0,
    )
    return proc


# ----------------------------------------------------------------------------- train / evaluate / predict


def test_train_csv_classification_writes_model_labels_and_plots(data, blobs_model):
    out = blobs_model.stdout
    assert "3 classes (cat, dog, emu)" in out
    assert "training on 45 samples, validating on 15" in out
    assert "model saved to blobs.safetensors" in out
    assert "5/5" in blobs_model.stderr  # the tqdm progress bar
    model = fm.load(data / "blobs.safetensors")
    assert (model.n_features_in, model.n_outputs, model.loss_name) == (2, 3, "categorical_crossentropy")
    assert not (data / "blobs.labels.json").exists()  # labels and names are in the model file
    assert model.classes_.tolist() == ["cat", "dog", "emu"] and list(model.feature_names_in_) == ["x1", "x2"]
    assert isinstance(model.layers[0], fm.Normalization) and not isinstance(model.layers[-1], fm.Normalization)
    assert "standardized: features (mean and std of the 45 training samples)" in out
    assert is_png(data / "blobs_loss.png")
    assert is_png(data / "blobs_loss_boundary.png")  # 2 features and classes: the decision boundary too


def test_evaluate_classifier_json_and_confusion_matrix(data, blobs_model):
    proc = run(
        "evaluate", "blobs.safetensors", "blobs.csv", "--json", "--confusion-matrix", "cm.png", cwd=data, check=0
    )
    result = json.loads(proc.stdout)
    assert result["samples"] == 60
    assert 0 <= result["accuracy"] <= 1 and np.isfinite(result["loss"])
    assert is_png(data / "cm.png")
    # the accuracy agrees with the model used from Python
    model = fm.load(data / "blobs.safetensors")
    header, rows = read_csv(data / "blobs.csv")
    X = np.array([[float(r[0]), float(r[1])] for r in rows])
    y = np.array([r[2] for r in rows])  # the model standardizes inside and knows the labels
    assert result["accuracy"] == pytest.approx(model.accuracy(X, y))
    assert result["loss"] == pytest.approx(model.loss(X, y), rel=1e-6)


def test_evaluate_text_output(data, blobs_model):
    proc = run("evaluate", "blobs.safetensors", "blobs.csv", cwd=data, check=0)
    keys = [line.split()[0] for line in proc.stdout.splitlines()]
    assert keys == ["samples", "loss", "accuracy"]


def test_predict_labels_csv_and_proba_npy(data, blobs_model):
    run("predict", "blobs.safetensors", "blobs.csv", "--out", "pred.csv", cwd=data, check=0)
    header, rows = read_csv(data / "pred.csv")
    assert header == ["prediction"] and len(rows) == 60
    assert {r[0] for r in rows} <= {"cat", "dog", "emu"}
    model = fm.load(data / "blobs.safetensors")
    _, raw = read_csv(data / "blobs.csv")
    X = np.array([[float(r[0]), float(r[1])] for r in raw])  # raw rows: the model standardizes them
    assert [r[0] for r in rows] == model.predict(X).tolist()

    run("predict", "blobs.safetensors", "blobs.csv", "--proba", "--out", "proba.npy", cwd=data, check=0)
    p = np.load(data / "proba.npy")
    assert p.shape == (60, 3)
    np.testing.assert_allclose(p, model.predict_proba(X), rtol=1e-6)


def test_predict_selects_training_columns_by_name(data, blobs_model):
    """Columns in another order, the target in the middle: picked by the names saved at training."""
    a = run("predict", "blobs.safetensors", "blobs.csv", cwd=data, check=0).stdout
    b = run("predict", "blobs.safetensors", "blobs_reordered.csv", cwd=data, check=0).stdout
    assert a == b and a.startswith("prediction\n") and len(a.splitlines()) == 61


def test_info_describes_a_model(data, blobs_model):
    proc = run("info", "blobs.safetensors", cwd=data, check=0)
    assert "classes: cat, dog, emu" in proc.stdout
    assert "features: x1, x2" in proc.stdout  # the target's name is not in the model file
    assert "standardized: features (Normalization layers in the model)" in proc.stdout


@pytest.fixture(scope="module")
def bin_model(data):
    return run(
        "train",
        "bin.csv",
        "--target",
        "0",
        "--layers",
        "4",
        "--epochs",
        "3",
        "--optimizer",
        "sgd",
        "--momentum",
        "0.9",
        "--learning-rate",
        "0.1",
        "--batch-size",
        "full",
        "--dtype",
        "float64",
        "--no-progress",
        "--out",
        "bin.safetensors",
        cwd=data,
        check=0,
    )


@pytest.fixture(scope="module")
def reg_model(data):
    return run(
        "train",
        "reg.npz",
        "--layers",
        "8",
        "--epochs",
        "4",
        "--validation-split",
        "0.2",
        "--no-progress",
        "--out",
        "reg.safetensors",
        "--plot",
        "reg_loss.png",
        cwd=data,
        check=0,
    )


def test_binary_csv_without_header_integer_labels(data, bin_model):
    assert "2 classes (3, 7)" in bin_model.stdout and "target column 0" in bin_model.stdout
    model = fm.load(data / "bin.safetensors")
    assert model.classes_.tolist() == [3, 7] and model.feature_names_in_ is None
    assert not (data / "bin.labels.json").exists()
    assert (model.n_outputs, model.loss_name, model.dtype) == (1, "binary_crossentropy", np.float64)
    proc = run("predict", "bin.safetensors", "bin.csv", "--target", "0", "--proba", cwd=data, check=0)
    lines = proc.stdout.splitlines()
    assert lines[0] == "p_3,p_7" and len(lines) == 41
    assert all(abs(sum(map(float, line.split(","))) - 1) < 1e-9 for line in lines[1:])
    proc = run("evaluate", "bin.safetensors", "bin.csv", "--target", "0", "--json", cwd=data, check=0)
    assert set(json.loads(proc.stdout)) == {"samples", "loss", "accuracy"}


def test_regression_npz(data, reg_model):
    assert "task: regression, 1 output" in reg_model.stdout
    assert is_png(data / "reg_loss.png") and not (data / "reg_loss_boundary.png").exists()
    assert not (data / "reg.labels.json").exists()

    result = json.loads(run("evaluate", "reg.safetensors", "reg.npz", "--json", cwd=data, check=0).stdout)
    assert set(result) == {"samples", "loss", "mse", "r2"}
    model = fm.load(data / "reg.safetensors")
    npz = np.load(data / "reg.npz")
    assert scaler(data, "reg", "target") is not None  # the target is standardized too, inside the model
    pred = model.predict(npz["X"])  # raw features in, the target's units out
    mse = np.mean((pred - npz["y"]) ** 2)
    assert result["mse"] == pytest.approx(mse, rel=1e-5)  # in the target's units
    assert result["loss"] == pytest.approx(mse, rel=1e-5)  # the objective: in the target's units too
    r2 = 1 - np.sum((pred - npz["y"]) ** 2) / np.sum((npz["y"] - npz["y"].mean()) ** 2)
    assert result["r2"] == pytest.approx(r2, rel=1e-5, abs=1e-6)

    run("predict", "reg.safetensors", "reg.npz", "--out", "reg_pred.npy", cwd=data, check=0)
    np.testing.assert_allclose(np.load(data / "reg_pred.npy"), pred, rtol=1e-6)


def test_classification_npz_string_labels(data):
    proc = run(
        "train",
        "cls.npz",
        "--layers",
        "none",
        "--epochs",
        "3",
        "--no-progress",
        "--out",
        "cls.safetensors",
        cwd=data,
        check=0,
    )
    assert "2 classes (left, right)" in proc.stdout
    assert fm.load(data / "cls.safetensors").num_params == 3  # no hidden layer: 2 weights + 1 bias
    result = json.loads(run("evaluate", "cls.safetensors", "cls.npz", "--json", cwd=data, check=0).stdout)
    assert result["samples"] == 40 and 0 <= result["accuracy"] <= 1
    run("predict", "cls.safetensors", "cls.npz", "--out", "cls_pred.npy", cwd=data, check=0)
    assert set(np.load(data / "cls_pred.npy").tolist()) <= {"left", "right"}


def test_model_saved_from_python_and_stale_labels_file(data, tmp_path):
    """A model without a labels file uses class ids; a labels file of another model is ignored with a warning."""
    model = fm.Sequential([fm.Dense(2, 3, "softmax")], seed=0)
    model.save(tmp_path / "py.safetensors")
    X = np.random.default_rng(1).normal(size=(10, 2))
    np.savez(tmp_path / "ids.npz", X=X, y=np.arange(10) % 3)
    proc = run("predict", "py.safetensors", "ids.npz", cwd=tmp_path, check=0)
    assert proc.stdout.splitlines()[1:] == [str(i) for i in model.predict(X)]

    (tmp_path / "py.labels.json").write_text(
        json.dumps({"fastmlp_labels": 1, "model_sha256": "0" * 64, "task": "classify", "classes": ["a", "b", "c"]})
    )
    proc = run("evaluate", "py.safetensors", "ids.npz", cwd=tmp_path, check=0)
    assert "ignoring" in proc.stderr and "py.labels.json" in proc.stderr
    assert "accuracy" in proc.stdout


def test_labels_file_of_a_version_before_scaling_still_works(tmp_path):
    """A format-1 labels file (no "scaler") belongs to a model trained on the data as it is: no scaling."""
    model = fm.Sequential([fm.Dense(2, 3, "softmax")], seed=0)
    model.save(tmp_path / "old.safetensors")
    (tmp_path / "old.labels.json").write_text(
        json.dumps(
            {
                "fastmlp_labels": 1,
                "model_sha256": cli_labels._sha256(str(tmp_path / "old.safetensors")),
                "task": "classify",
                "classes": ["a", "b", "c"],
                "target": None,
                "features": None,
            }
        )
    )
    X = 50 + 20 * np.random.default_rng(2).normal(size=(10, 2))  # scaling would change the answers
    np.save(tmp_path / "X.npy", X)
    proc = run("predict", "old.safetensors", "X.npy", cwd=tmp_path, check=0)
    assert proc.stdout.splitlines()[1:] == [["a", "b", "c"][i] for i in model.predict(X)]
    assert "standardized: no" in run("info", "old.safetensors", cwd=tmp_path, check=0).stdout


def test_a_damaged_scaler_in_the_labels_file_is_an_error(data, tmp_path):
    """An old model's labels file (train writes none any more) with a scale of 0."""
    (tmp_path / "reg.npz").write_bytes((data / "reg.npz").read_bytes())
    fm.Sequential([fm.Dense(3, 4, "relu"), fm.Dense(4, 1)], seed=0).save(tmp_path / "reg.safetensors")
    meta = {
        "fastmlp_labels": 2,
        "model_sha256": cli_labels._sha256(str(tmp_path / "reg.safetensors")),
        "task": "regress",
        "classes": None,
        "scaler": {"features": {"mean": [0.0, 0.0, 0.0], "scale": [1.0, 0.0, 1.0]}, "target": None},
    }
    (tmp_path / "reg.labels.json").write_text(json.dumps(meta))
    proc = run("predict", "reg.safetensors", "reg.npz", cwd=tmp_path, check=2)
    assert "reg.labels.json: 'scaler' features must hold 'mean' and 'scale', 3 finite numbers each" in proc.stderr


# ----------------------------------------------------------------------------- demo, info, --version


def test_demo_runs_one_epoch(tmp_path):
    pytest.importorskip("sklearn")
    pytest.importorskip("matplotlib")
    proc = run("demo", "--epochs", "1", "--plot", "demo.png", cwd=tmp_path, check=0)
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("digits: 1347 train / 450 test samples")
    assert any(line.startswith("epoch   1/1  loss") for line in lines)
    assert any(line.startswith("test accuracy: ") for line in lines)
    assert lines[-1] == "loss curve saved to demo.png" and is_png(tmp_path / "demo.png")


def test_demo_with_its_defaults_reaches_97_percent(tmp_path):
    """The README's main job: `python -m fastmlp demo` as a newcomer runs it (every default)."""
    pytest.importorskip("sklearn")
    pytest.importorskip("matplotlib")
    proc = run("demo", "--plot", "demo.png", cwd=tmp_path, check=0)
    lines = proc.stdout.splitlines()
    acc = float(next(line for line in lines if line.startswith("test accuracy: ")).split()[2])
    assert acc >= 0.97 and abs(acc - 0.98) <= 0.015, proc.stdout  # the README: "about 0.98"
    losses = [float(line.split()[3]) for line in lines if line.startswith("epoch ")]
    # A smooth curve: no epoch's training loss jumps above twice the lowest loss before it
    # (the Adam default with an SGD learning rate jumped from 0.045 to 0.68).
    assert all(b <= 2 * min(losses[: i + 1]) for i, b in enumerate(losses[1:])), losses


def test_info_and_version(tmp_path):
    info = json.loads(run("info", cwd=tmp_path, check=0).stdout)
    assert info["version"] == fm.__version__
    assert run("--version", cwd=tmp_path, check=0).stdout.strip() == f"fastmlp {fm.__version__}"
    usage = run(cwd=tmp_path, check=2)
    assert "usage: fastmlp" in usage.stderr


# ----------------------------------------------------------------------------- errors


@pytest.fixture(scope="module")
def bad_files(data):
    (data / "bad_value.csv").write_text("a,b,label\n1,2,x\n3,oops,y\n")
    (data / "empty_value.csv").write_text("1,2,0\n3,,1\n")
    (data / "one_class.csv").write_text("a,label\n1,x\n2,x\n")
    (data / "notes.json").write_text("{}")
    return data


ERRORS = [
    # (args, the message must contain)
    (["train", "missing.csv"], "missing.csv: no such file"),
    (["evaluate", "missing.safetensors", "blobs.csv"], "missing.safetensors: no such model file"),
    (["train", "blobs.csv", "--target", "species"], "no column named 'species'; its columns are 'x1', 'x2', 'animal'"),
    (["train", "blobs.csv", "--target", "5"], "--target 5 is out of range: blobs.csv has 3 columns"),
    (["train", "bin.csv", "--target", "label"], "bin.csv has no header row, so --target must be a column index"),
    (["train", "bad_value.csv"], "bad_value.csv: line 3, column 1 ('b'): 'oops' is not a number"),
    (["train", "empty_value.csv"], "empty_value.csv: line 2, column 1 is empty"),
    (["train", "one_class.csv"], "only one class ('x')"),
    (["train", "reg.npz", "--y-key", "target"], "reg.npz has no array 'target' (it holds 'X', 'y')"),
    (["train", "notes.json"], "unknown data file type '.json'"),
    (["evaluate", "blobs.safetensors", "reg.npz"], "the model expects 2 features but reg.npz has 3"),
    (
        ["predict", "bin.safetensors", "bin.csv"],
        "the model expects 3 features but bin.csv has 4 (4 columns); "
        "if one column is the target, name it with --target",
    ),
    (["evaluate", "blobs.safetensors", "bin.csv", "--target", "0"], "the model expects 2 features but bin.csv has 3"),
    (["evaluate", "blobs.csv", "blobs.csv"], "blobs.csv: not a valid fastmlp model file"),
    (["predict", "reg.safetensors", "reg.npz", "--proba"], "--proba needs a classifier"),
    (["train", "blobs.csv", "--layers", "8,x"], "argument --layers"),
    (["train", "blobs.csv", "--standardize-target"], "--standardize-target needs regression with a linear output"),
]


@pytest.mark.parametrize("args, message", ERRORS, ids=[" ".join(a) for a, _ in ERRORS])
def test_input_errors_exit_2_with_one_clear_line(bad_files, blobs_model, bin_model, reg_model, args, message):
    proc = run(*args, cwd=bad_files, check=2)
    assert "Traceback" not in proc.stderr
    assert message in proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith(f"fastmlp {args[0]}: error: ")
    if args[0] == "train" and "--layers" not in args:
        assert not (bad_files / "model.safetensors").exists()


def test_divergence_exits_1(data):
    proc = run(
        "train",
        "bin.csv",
        "--target",
        "0",
        "--optimizer",
        "sgd",
        "--learning-rate",
        "1e30",
        "--epochs",
        "20",
        "--no-progress",
        "--out",
        "diverged.safetensors",
        cwd=data,
        check=1,
    )
    assert "diverged" in proc.stderr and "Traceback" not in proc.stderr
    assert not (data / "diverged.safetensors").exists()


# ----------------------------------------------------------------------------- helpers, in process


def test_header_detection():
    assert cli_data.looks_like_header(["x1", "x2", "label"], [["1", "2", "a"]])
    assert cli_data.looks_like_header(["label", "0", "1"], [["3", "0.5", "1"]])  # numeric column names
    assert not cli_data.looks_like_header(["5.1", "3.5", "setosa"], [["4.9", "3.0", "setosa"]])
    assert not cli_data.looks_like_header(["1", "", "2"], [["1", "2", "3"]])  # a missing value is not a name


def test_task_inference():
    assert cli_commands.infer_task(np.array(["a", "b", "a"])) == "classify"
    assert cli_commands.infer_task(np.array([0, 1, 1, 0])) == "classify"
    assert cli_commands.infer_task(np.repeat(np.arange(5), 4)) == "classify"
    assert cli_commands.infer_task(np.arange(40)) == "regress"  # too many distinct values
    assert cli_commands.infer_task(np.array([0.5, 1.5, 0.5])) == "regress"
    assert cli_commands.infer_task(np.zeros((4, 2))) == "regress"


def test_argument_types_and_labels_path():
    assert cli_parser.layer_sizes("64,32") == [64, 32] and cli_parser.layer_sizes("none") == []
    assert cli_parser.batch_size_arg("full") is None and cli_parser.batch_size_arg("8") == 8
    assert cli_labels.labels_path("out/model.safetensors") == os.path.join("out", "model.labels.json")
    with pytest.raises(SystemExit):
        cli.main(["train", "x.csv", "--validation-split", "1.5"])
