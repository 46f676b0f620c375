"""``python -m fastmlp export-onnx MODEL OUT.onnx``: onnxruntime on the file gives what the model
(and ``fastmlp predict``) gives, standardization included; a clear one-line error (exit 2) when
onnx is missing or the model cannot be read."""

import subprocess
import sys

import numpy as np
import pytest

import fastmlp as fm
from test_cli import read_csv, run

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")


def onnx_outputs(path, X, dtype):
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    outputs = [o.name for o in sess.get_outputs()]  # a classifier's labels second (tests/test_onnx_labels.py)
    assert [i.name for i in sess.get_inputs()] == ["input"] and outputs in (["output"], ["output", "label"])
    return sess.run(None, {"input": np.asarray(X, dtype=dtype)})[0]


def test_a_python_saved_model_exports_as_its_forward(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 4))
    for dtype, tol in (("float32", 1e-5), ("float64", 1e-12)):
        model = fm.Sequential([fm.Dense(4, 6, "tanh"), fm.Dense(6, 3, "softmax")], dtype=dtype, seed=1)
        model.save(tmp_path / f"m_{dtype}.safetensors")
        done = run("export-onnx", f"m_{dtype}.safetensors", f"m_{dtype}.onnx", cwd=tmp_path, check=0)
        assert f"ONNX model written to m_{dtype}.onnx" in done.stdout
        got = onnx_outputs(tmp_path / f"m_{dtype}.onnx", X, dtype)
        np.testing.assert_allclose(got, model.forward(X), rtol=tol, atol=tol)


def test_a_trained_classifier_takes_raw_features_and_gives_predicts_probabilities(tmp_path):
    rng = np.random.default_rng(1)
    X = rng.normal(loc=50, scale=20, size=(90, 3))  # far from standardized: the graph must scale it
    y = np.array(["cat", "dog", "owl"])[(X[:, 0] > 50).astype(int) + (X[:, 1] > 50)]
    rows = ["a,b,c,animal"] + [f"{a!r},{b!r},{c!r},{t}" for (a, b, c), t in zip(X.tolist(), y)]
    (tmp_path / "train.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "new.csv").write_text("\n".join(r.rsplit(",", 1)[0] for r in rows) + "\n")
    run("train", "train.csv", "--epochs", "5", "--no-progress", "--out", "m.safetensors", cwd=tmp_path, check=0)
    done = run("export-onnx", "m.safetensors", "m.onnx", cwd=tmp_path, check=0)
    assert "standardized in the graph" in done.stdout and "cat, dog, owl" in done.stdout
    run("predict", "m.safetensors", "new.csv", "--proba", "--out", "p.csv", cwd=tmp_path, check=0)
    header, body = read_csv(tmp_path / "p.csv")
    assert header == ["p_cat", "p_dog", "p_owl"]
    np.testing.assert_allclose(onnx_outputs(tmp_path / "m.onnx", X, "float32"), np.array(body, float), atol=2e-5)


def test_a_standardized_regression_target_comes_back_in_its_units(tmp_path):
    rng = np.random.default_rng(2)
    X = rng.normal(size=(80, 2)) * [3, 0.1] + [10, -4]
    y = 1000 + 300 * X[:, 0] - 50 * X[:, 1]
    np.savez(tmp_path / "train.npz", X=X, y=y)
    np.savez(tmp_path / "new.npz", X=X)
    run(
        "train",
        "train.npz",
        "--task",
        "regress",
        "--epochs",
        "5",
        "--no-progress",
        "--dtype",
        "float64",
        cwd=tmp_path,
        check=0,
    )
    done = run("export-onnx", "model.safetensors", "model.onnx", cwd=tmp_path, check=0)
    assert "in the target's units" in done.stdout
    run("predict", "model.safetensors", "new.npz", "--out", "p.npy", cwd=tmp_path, check=0)
    got = onnx_outputs(tmp_path / "model.onnx", X, "float64")
    np.testing.assert_allclose(got[:, 0], np.load(tmp_path / "p.npy"), rtol=1e-12)
    assert abs(np.mean(got[:, 0]) - 1000 - 300 * 10 - 200) < 3 * np.std(y)  # in the units of y


def one_error_line(done, *needles):
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("fastmlp export-onnx: error: "), done.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_a_model_that_cannot_be_read_is_one_line_and_exit_2(tmp_path):
    one_error_line(run("export-onnx", "missing.safetensors", "m.onnx", cwd=tmp_path), "missing.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"not a model at all")
    one_error_line(run("export-onnx", "junk.safetensors", "m.onnx", cwd=tmp_path), "junk.safetensors")
    fm.Sequential([fm.Dense(2, 1, "sigmoid")], seed=0).save(tmp_path / "m.safetensors")
    one_error_line(run("export-onnx", "m.safetensors", "no/such/dir/m.onnx", cwd=tmp_path), "does not exist")
    one_error_line(run("export-onnx", "m.safetensors", "m.onnx", "--opset", "9", cwd=tmp_path), "opset")
    assert not (tmp_path / "m.onnx").exists()


def test_without_onnx_it_says_what_to_install(tmp_path):
    fm.Sequential([fm.Dense(2, 1, "sigmoid")], seed=0).save(tmp_path / "m.safetensors")
    code = (
        "import sys; sys.modules['onnx'] = None\n"  # import onnx -> ImportError, as where it is not installed
        "from fastmlp.cli import main\n"
        "sys.exit(main(['export-onnx', 'm.safetensors', 'm.onnx']))"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    one_error_line(done, "needs the 'onnx' package", "pip install 'fastmlp[onnx]'")
    assert not (tmp_path / "m.onnx").exists()
