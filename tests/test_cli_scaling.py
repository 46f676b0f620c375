"""The command line's standardization (features and target, the Normalization layers train puts in
the model), its validation split, the defaults' scores and sharded data, run as users run it:
``python -m fastmlp ...`` in a subprocess."""

import json
import warnings

import numpy as np
import pytest

import fastmlp as fm
from fastmlp import cli
from helpers_cli import run, scaler

# ----------------------------------------------------------------------------- standardization, validation split


def unscaled_regression(rng, m=80):
    """Features and a target far from mean 0, std 1 (as raw measurements are)."""
    X = rng.normal(size=(m, 3)) * [100.0, 0.01, 1.0] + [1000.0, 0.0, 5.0]
    y = 300 + 50 * ((X[:, 0] - 1000) / 100 - 2 * X[:, 1] / 0.01) + rng.normal(size=m)
    return X, y


def test_scaler_is_standard_scalers_and_applied_by_predict_and_evaluate(tmp_path):
    sklearn_pre = pytest.importorskip("sklearn.preprocessing")
    X, y = unscaled_regression(np.random.default_rng(3))
    X[:, 2] = 7.0  # a constant column: scale 1, as StandardScaler
    np.savez(tmp_path / "raw.npz", X=X, y=y)
    proc = run("train", "raw.npz", "--epochs", "5", "--no-progress", "--out", "raw.safetensors", cwd=tmp_path, check=0)
    assert "standardized: features and target (mean and std of the 80 training samples)" in proc.stdout
    assert "warning" not in proc.stderr

    by_hand = sklearn_pre.StandardScaler().fit(X)
    mean, scale = scaler(tmp_path, "raw")
    np.testing.assert_allclose(mean, by_hand.mean_, rtol=1e-7)
    np.testing.assert_allclose(scale, by_hand.scale_, rtol=1e-7)
    assert scale[2] == 1.0
    y_mean, y_scale = scaler(tmp_path, "raw", "target")
    np.testing.assert_allclose([y_mean[0], y_scale[0]], [y.mean(), y.std()], rtol=1e-7)

    model = fm.load(tmp_path / "raw.safetensors")
    weights = model.get_weights()  # [mean, variance, W1, b1, ..., mean_y, variance_y]
    dense = zip(model.layers[1:-1], weights[2:-2:2])  # the MLP between the two Normalization layers
    inner = fm.Sequential([fm.Dense(*W.shape, layer.activation) for layer, W in dense], dtype=model.dtype)
    inner.set_weights(weights[2:-2])
    expected = inner.predict(by_hand.transform(X)) * y.std() + y.mean()  # in the target's units
    np.testing.assert_allclose(model.predict(X), expected, rtol=1e-5)
    run("predict", "raw.safetensors", "raw.npz", "--out", "pred.npy", cwd=tmp_path, check=0)
    np.testing.assert_allclose(np.load(tmp_path / "pred.npy"), expected, rtol=1e-5)
    result = json.loads(run("evaluate", "raw.safetensors", "raw.npz", "--json", cwd=tmp_path, check=0).stdout)
    assert result["mse"] == pytest.approx(np.mean((expected - y) ** 2), rel=1e-5)
    assert "standardized: features and target" in run("info", "raw.safetensors", cwd=tmp_path, check=0).stdout


def test_no_standardize_trains_on_raw_values_and_warns_when_they_look_unscaled(tmp_path):
    rng = np.random.default_rng(4)
    X, y = unscaled_regression(rng)
    np.savez(tmp_path / "raw.npz", X=X, y=y)
    args = ("--epochs", "2", "--no-progress", "--out", "raw.safetensors")
    proc = run("train", "raw.npz", "--no-standardize", *args, cwd=tmp_path, check=0)
    warned = [line for line in proc.stderr.splitlines() if line.startswith("fastmlp: warning: ")]
    features = [line for line in warned if "--no-standardize: features look unscaled: " in line]
    assert len(features) == 1, proc.stderr
    assert "column 0 (std " in features[0] and "column 1" not in features[0]  # std 0.01: fine
    assert "column 2" not in features[0]  # mean 5, std 1
    assert any("the regression target is not standardized and looks unscaled: target (std" in w for w in warned)
    assert scaler(tmp_path, "raw") is None and scaler(tmp_path, "raw", "target") is None
    model = fm.load(tmp_path / "raw.safetensors")
    run("predict", "raw.safetensors", "raw.npz", "--out", "pred.npy", cwd=tmp_path, check=0)
    np.testing.assert_allclose(np.load(tmp_path / "pred.npy"), model.predict(X), rtol=1e-6)  # no scaling

    # features scaled, target left as it is: only the target's warning
    proc = run("train", "raw.npz", "--no-standardize-target", *args, cwd=tmp_path, check=0)
    assert "features look unscaled" not in proc.stderr and "target is not standardized" in proc.stderr
    assert scaler(tmp_path, "raw", "target") is None and scaler(tmp_path, "raw") is not None

    # values of order 1: no warning
    np.savez(tmp_path / "small.npz", X=rng.normal(size=(40, 3)), y=rng.normal(size=40))
    proc = run("train", "small.npz", "--no-standardize", *args, cwd=tmp_path, check=0)
    assert "warning" not in proc.stderr


def test_no_target_scaling_for_a_bounded_output(tmp_path):
    rng = np.random.default_rng(5)
    np.savez(tmp_path / "p.npz", X=rng.normal(size=(40, 2)), y=rng.uniform(0.1, 0.9, size=40))
    args = ("train", "p.npz", "--task", "regress", "--output-activation", "sigmoid", "--epochs", "2", "--no-progress")
    proc = run(*args, cwd=tmp_path, check=0)
    assert "standardized: features (" in proc.stdout and scaler(tmp_path, "model", "target") is None
    proc = run(*args, "--standardize-target", cwd=tmp_path, check=2)
    assert "--standardize-target needs regression with a linear output; this model has a sigmoid output" in (
        proc.stderr
    )


def test_validation_split_is_the_apis_stratified_split(tmp_path):
    """On iris, sorted by class: the CLI holds out the rows fit(validation_split=...) holds out (every class, in
    proportion), trains the same weights as the API, and fits the scaler on the training rows only."""
    datasets = pytest.importorskip("sklearn.datasets")
    from fastmlp.model import _split_rows

    X, y = datasets.load_iris(return_X_y=True)
    assert (np.diff(y) >= 0).all()  # sorted: the last 20% are one class
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    with open(tmp_path / "iris.csv", "w") as f:
        f.write("a,b,c,d,species\n")
        f.writelines(",".join(map(repr, row)) + f",{n}\n" for row, n in zip(X.tolist(), names))
    common = ("--layers", "8", "--epochs", "3", "--seed", "7", "--validation-split", "0.2", "--no-progress")

    run("train", "iris.csv", *common, "--no-standardize", "--out", "raw.safetensors", cwd=tmp_path, check=0)
    api = fm.Sequential([fm.Dense(4, 8, "relu"), fm.Dense(8, 3, "softmax")], seed=7, optimizer="adam")
    with warnings.catch_warnings():
        warnings.simplefilter("error", fm.OneClassValidationWarning)
        history = api.fit(X, y, epochs=3, batch_size=32, seed=7, validation_split=0.2)
    np.testing.assert_array_equal(fm.load(tmp_path / "raw.safetensors").params, api.params)

    proc = run("train", "iris.csv", *common, "--out", "std.safetensors", cwd=tmp_path, check=0)
    assert "training on 120 samples, validating on 30" in proc.stdout and "warning" not in proc.stderr
    train, val = _split_rows(y, len(y), 0.2, 7)
    assert np.bincount(y[val]).tolist() == [10, 10, 10]
    np.testing.assert_allclose(scaler(tmp_path, "std")[0], X[train].mean(axis=0), rtol=1e-7)
    assert len(history.history["val_loss"]) == 3


def _train_and_evaluate(tmp_path, capsys, name, loader, split_seed, *options):
    """Train with the CLI's defaults on 75% of a scikit-learn data set, evaluate on the rest (in process)."""
    from sklearn.model_selection import train_test_split

    X, y = loader(return_X_y=True)
    stratify = y if name == "wine" else None
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, random_state=split_seed, stratify=stratify)
    np.savez(tmp_path / "train.npz", X=X_tr, y=y_tr)
    np.savez(tmp_path / "test.npz", X=X_te, y=y_te)
    model = str(tmp_path / f"{name}.safetensors")
    assert cli.main(["train", str(tmp_path / "train.npz"), "--no-progress", "--out", model, *options]) == 0
    capsys.readouterr()
    assert cli.main(["evaluate", model, str(tmp_path / "test.npz"), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_defaults_reach_good_scores_on_diabetes_and_wine(tmp_path, capsys):
    """The CLI's defaults (standardized features and target) on held-out data, 5 splits: diabetes R^2 went
    from about -0.05 (unscaled) to about 0.38, wine accuracy from about 0.87 to 1.0 (medians)."""
    datasets = pytest.importorskip("sklearn.datasets")
    r2 = [_train_and_evaluate(tmp_path, capsys, "diabetes", datasets.load_diabetes, s)["r2"] for s in range(5)]
    acc = [_train_and_evaluate(tmp_path, capsys, "wine", datasets.load_wine, s)["accuracy"] for s in range(5)]
    assert np.median(r2) > 0.3, r2
    assert np.median(acc) > 0.9, acc


def test_shards_are_standardized_as_they_are_read(tmp_path):
    X, y = unscaled_regression(np.random.default_rng(6), m=90)
    shards = tmp_path / "shards"
    shards.mkdir()
    for i in range(3):  # the mean and std combined over shards of different sizes
        rows = slice([0, 20, 50][i], [20, 50, 90][i])
        np.save(shards / f"X_{i}.npy", X[rows])
        np.save(shards / f"y_{i}.npy", y[rows])
    proc = run("train", "shards", "--epochs", "2", "--no-progress", "--out", "s.safetensors", cwd=tmp_path, check=0)
    assert "standardized: features and target (mean and std of the 90 training samples)" in proc.stdout
    mean, scale = scaler(tmp_path, "s")
    np.testing.assert_allclose(mean, X.mean(axis=0), rtol=1e-7)
    np.testing.assert_allclose(scale, X.std(axis=0), rtol=1e-7)
    np.testing.assert_allclose(scaler(tmp_path, "s", "target"), [[y.mean()], [y.std()]], rtol=1e-7)
    np.savez(tmp_path / "all.npz", X=X, y=y)
    result = json.loads(run("evaluate", "s.safetensors", "all.npz", "--json", cwd=tmp_path, check=0).stdout)
    assert np.isfinite(result["r2"])
