"""The code blocks of the README and docs/ run as written: the docs' Python blocks, the command-line
examples, and the gallery's stated values (tests/test_doc_numbers.py checks the numbers in prose)."""

import re

import numpy as np
import pytest

import fastmlp as fm
from test_doc_numbers import DOCS, README, ROOT, page, python_blocks, run_code, stated

# ----------------------------------------------------------------------------- the docs' Python blocks


def test_getting_started_blocks_run_in_order(tmp_path, monkeypatch):
    """docs/getting_started.md's blocks, one session (the later blocks use the first's `fm`)."""
    pytest.importorskip("sklearn")
    monkeypatch.chdir(tmp_path)
    blocks = python_blocks(page("getting_started.md"))
    assert len(blocks) == 3
    scope = run_code("\n".join(blocks), str(DOCS / "getting_started.md"))
    model, X = scope["model"], scope["X"]
    assert model.evaluate(X, scope["y"])[1] > 0.9  # the Keras-style digits model of the last block learned


def test_getting_started_regression_predicts_in_the_targets_units(tmp_path, monkeypatch):
    """ "y = out * std + mean": the last Normalization(invert=True) gives predictions in y's units."""
    pytest.importorskip("sklearn")
    monkeypatch.chdir(tmp_path)
    block = next(b for b in python_blocks(page("getting_started.md")) if "invert=True" in b)
    scope = run_code("import fastmlp as fm\n" + block, "getting_started.md")
    model, X, y = scope["regressor"], scope["X_raw"], scope["y_raw"]
    pred = model.predict(X).ravel()
    assert abs(pred.mean() - y.mean()) < 0.2 * y.std()  # around the targets, not around 0
    assert np.mean((pred - y) ** 2) < np.var(y)  # better than the mean


def test_index_block_learns_xor():
    (block,) = python_blocks(page("index.md"))
    scope = run_code(block, str(DOCS / "index.md"))
    assert "array([0, 1, 1, 0])" in block
    assert scope["model"].predict(scope["X"]).tolist() == [0, 1, 1, 0]


def test_file_format_reading_by_hand_gives_the_weights(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    model = fm.Sequential([fm.Dense(4, 8, "relu"), fm.Dense(8, 3, "softmax")], seed=0)
    model.save("model.safetensors")
    (block,) = python_blocks(page("file_format.md"))
    scope = run_code(block, str(DOCS / "file_format.md"))
    np.testing.assert_array_equal(scope["W0"], model.layers[0].weights)
    assert scope["n"] % 8 == 0  # "padded with spaces to a multiple of 8 bytes"
    header = scope["raw"][8 : 8 + scope["n"]].decode()
    assert header == header.rstrip() + " " * (len(header) - len(header.rstrip()))
    assert scope["header"]["__metadata__"]["fastmlp_format"] == str(fm.io.FORMAT_VERSION) == "1"


def test_reliability_example_raises_what_it_shows():
    text = page("reliability.md")
    lines = re.search(r"```python\n(.*?)```", text, flags=re.S).group(1).splitlines()
    code = [line[4:] for line in lines if line.startswith(">>> ")]
    expected = next(line for line in lines if line.startswith("ValueError: "))[len("ValueError: ") :]
    scope = {"fm": fm, "np": np}
    exec(code[0], scope)
    with pytest.raises(ValueError) as e:
        exec(code[1], scope)
    assert str(e.value) == expected


# ----------------------------------------------------------------------------- the command-line blocks


def _commands(block: str) -> list:
    """The `python -m fastmlp ...` lines of a bash block: continuations joined, comments dropped."""
    import shlex

    text = block.replace("\\\n", " ")
    return [shlex.split(line.split("  #")[0]) for line in text.splitlines() if line.startswith("python -m fastmlp")]


def _run_commands(commands, cwd):
    import subprocess
    import sys

    for argv in commands:
        assert argv[:3] == ["python", "-m", "fastmlp"]
        done = subprocess.run([sys.executable, *argv[1:]], cwd=cwd, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, f"{' '.join(argv)}:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"


def test_the_cli_examples_run(tmp_path):
    """The README's and docs/api/cli.md's command block (the same block), on the iris data."""
    pytest.importorskip("pandas")
    datasets = pytest.importorskip("sklearn.datasets")
    pytest.importorskip("matplotlib")
    pytest.importorskip("onnx")
    blocks = [
        re.search(r"```bash\n(python -m fastmlp train iris\.csv.*?)```", t, flags=re.S)
        for t in (README, page("api/cli.md"))
    ]
    assert blocks[0] and blocks[1] and blocks[0].group(1) == blocks[1].group(1)
    iris = datasets.load_iris(as_frame=True)
    df = iris.data.copy()
    df["species"] = iris.target_names[iris.target]
    df.to_csv(tmp_path / "iris.csv", index=False)
    df.sample(30, random_state=0).to_csv(tmp_path / "test.csv", index=False)
    df.drop(columns="species").sample(10, random_state=1).to_csv(tmp_path / "new.csv", index=False)
    commands = _commands(blocks[0].group(1))
    assert [c[3] if len(c) > 3 else c[-1] for c in commands][:5] == [
        "train",
        "evaluate",
        "predict",
        "info",
        "export-onnx",
    ]
    _run_commands(commands, tmp_path)
    for made in ("iris.safetensors", "loss.png", "cm.png", "predictions.csv", "iris.onnx"):
        assert (tmp_path / made).is_file(), made


def test_the_cli_text_columns_example_runs(tmp_path):
    """docs/api/cli.md: a CSV with text columns and empty cells, trained and applied to unseen categories."""
    pd = pytest.importorskip("pandas")
    block = re.search(r"```bash\n(python -m fastmlp train customers\.csv.*?)```", page("api/cli.md"), flags=re.S)
    rng = np.random.default_rng(0)
    n = 120
    df = pd.DataFrame(
        {
            "plan": rng.choice(["basic", "pro", "family"], size=n),
            "age": rng.integers(18, 80, size=n).astype(float),
            "region": rng.choice(["north", "south", ""], size=n),
        }
    )
    df.loc[::7, "age"] = np.nan
    df["churn"] = np.where((df["plan"] == "basic") ^ (rng.random(n) < 0.1), "yes", "no")
    df.to_csv(tmp_path / "customers.csv", index=False)
    new = df.drop(columns="churn").head(10).copy()
    new.loc[0, "plan"] = "enterprise"  # a category never seen
    new.to_csv(tmp_path / "new_customers.csv", index=False)
    _run_commands(_commands(block.group(1)), tmp_path)
    assert (tmp_path / "churn.safetensors").is_file()


def test_the_xor_gallery_example_states_its_sigmoid_values(monkeypatch, tmp_path):
    """examples/lecture/plot_2_xor_hidden_layer.py: with sigmoid units the hand-set hidden outputs are
    0.27 and 0.27 at (1, 0) and the output's z is -0.08; scaled by 10 the net gives XOR."""
    pytest.importorskip("matplotlib")
    import runpy

    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.chdir(tmp_path)
    script = ROOT / "examples/lecture/plot_2_xor_hidden_layer.py"
    text = script.read_text()
    found = re.search(r"not 0 and 1 but, e\.g\., ([0-9.]+) and ([0-9.]+) at \(1, 0\)", text)
    assert found, "the example's text changed: update this test"
    h0, h1 = float(found.group(1)), float(found.group(2))
    scope = runpy.run_path(str(script), run_name="gallery")
    (z1, a1), (z2, _) = scope["xor_net"]("sigmoid").trace(np.array([[1.0, 0.0]]))
    assert a1[0].tolist() == pytest.approx([h0, h1], abs=0.005)
    assert z2[0, 0] == pytest.approx(float(stated(r"``sigmoid\((-[0-9.]+)\) < 0\.5``", text)), abs=0.005)
    assert scope["xor_net"]("sigmoid", scale=10).predict(scope["X"]).tolist() == [0, 1, 1, 0]
