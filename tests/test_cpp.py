"""The C++ side, built as outside projects against the installed package:
the ctest suite in tests/cpp and the embedding example in examples/cpp."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fastmlp as fm
from cmake_projects import ROOT, cmake_project, have_toolchain

pytestmark = pytest.mark.skipif(not have_toolchain(), reason="needs cmake and a C++ compiler")


def test_package_ships_cmake_config():
    assert (Path(fm.cmake_dir()) / "fastmlpConfig.cmake").is_file()
    assert (Path(fm.cmake_dir()).parents[2] / "include" / "fastmlp" / "fastmlp.hpp").is_file()


def test_ctest_suite(cpp_tests_build):
    done = subprocess.run(["ctest", "--output-on-failure"], cwd=cpp_tests_build, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "100% tests passed" in done.stdout


def _runnable_levels():
    """The SIMD levels of the installed library that this CPU runs (FASTMLP_ARCH=<level> imports)."""
    levels = [lvl.replace("x86-64-", "") for lvl in fm.build_info()["levels_built"]]
    ok = []
    for level in levels:
        env = dict(os.environ, FASTMLP_ARCH=level)
        if subprocess.run([sys.executable, "-c", "import fastmlp"], env=env, capture_output=True).returncode == 0:
            ok.append(level)
    return ok


@pytest.fixture(scope="module")
def example_exe(tmp_path_factory):
    build = tmp_path_factory.mktemp("example")
    cmake_project(ROOT / "examples" / "cpp", build)
    return build / "fastmlp_example"


def test_embedding_example_runs_at_every_level(example_exe):
    """The installed libfastmlp carries every level and picks one at run time; FASTMLP_ARCH forces it."""
    levels = _runnable_levels()
    assert levels and levels[0] == fm.build_info()["levels_built"][0].replace("x86-64-", "")

    def run(level):
        return subprocess.run(
            [str(example_exe)], capture_output=True, text=True, env=dict(os.environ, FASTMLP_ARCH=level)
        )

    for level in levels:
        done = run(level)
        assert done.returncode == 0 and "XOR:" in done.stdout, (level, done.stdout, done.stderr)
    done = run("v9")
    assert done.returncode != 0 and "FASTMLP_ARCH='v9'" in done.stderr  # the library reads it


@pytest.mark.skipif(shutil.which("nm") is None, reason="needs nm (binutils)")
def test_level_builds_share_no_symbol_with_the_portable_core():
    """The GEMM compiled with -march=x86-64-v3/v4 must define no symbol outside its own namespace:
    a weak symbol (an inline function, a template) shared with the portable core could be the copy
    the linker keeps, and then AVX code would run on CPUs without AVX."""
    lib = Path(fm.cmake_dir()).parents[1] / "libfastmlp.a"
    out = subprocess.run(["nm", "-C", "--defined-only", str(lib)], capture_output=True, text=True, check=True).stdout
    members = [m for m in re.split(r"\n(?=\S+\.o:\n)", "\n" + out) if m.strip()]
    level_members = [m for m in members if re.search(r"fastmlp::kernels_v[34]::", m)]
    assert len(level_members) == len(fm.build_info()["levels_built"]) - 1
    for member in level_members:
        ns = re.search(r"fastmlp::(kernels_v[34])::", member).group(1)
        for line in member.splitlines()[1:]:
            parts = line.split(maxsplit=2)
            if len(parts) == 3 and (parts[1].isupper() or parts[1] == "u"):  # global, weak or unique
                # compiler helpers without vector code: gcc's personality reference; clang's (the
                # manylinux wheel's compiler) __clang_call_terminate = __cxa_begin_catch + std::terminate
                assert ns in parts[2] or parts[2] in ("DW.ref.__gxx_personality_v0", "__clang_call_terminate"), line


def test_embedding_example_trains_and_loads_a_python_model(tmp_path, example_exe):
    exe = example_exe
    out = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout
    assert "XOR:" in out and "softmax:" in out
    p = [float(v) for v in out.split("p(y=1) =")[1].split()[:4]]
    assert p[0] < 0.5 and p[1] > 0.5 and p[2] > 0.5 and p[3] < 0.5  # XOR learned in C++
    assert "is a horse" in out

    # A model trained and saved in Python predicts the same in C++.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 5))
    y = rng.integers(0, 3, size=20)
    model = fm.Sequential([fm.Dense(5, 8, "tanh"), fm.Dense(8, 3, "softmax")], dtype="float64", seed=3)
    model.fit(X, y, epochs=5, batch_size=4, learning_rate=0.1)
    path = tmp_path / "model.safetensors"
    model.save(path)
    np.savetxt(tmp_path / "X.csv", X, delimiter=",", fmt="%.17g")
    out = subprocess.run(
        [str(exe), str(path), str(tmp_path / "X.csv")], capture_output=True, text=True, check=True
    ).stdout
    rows = [line for line in out.splitlines() if line and line[0] in "0123456789-" and "," in line]
    got = np.array([[float(v) for v in line.split(",")] for line in rows])
    np.testing.assert_allclose(got, model.forward(X), rtol=1e-12, atol=1e-15)

    # A CSV with a header row (as pandas and the CLI write them): the header is skipped.
    names = ",".join(f"x{j}" for j in range(5))
    np.savetxt(tmp_path / "Xh.csv", X, delimiter=",", fmt="%.17g", header=names, comments="")
    out = subprocess.run([str(exe), str(path), str(tmp_path / "Xh.csv")], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    rows = [line for line in out.stdout.splitlines() if line and line[0] in "0123456789-" and "," in line]
    got = np.array([[float(v) for v in line.split(",")] for line in rows])
    np.testing.assert_allclose(got, model.forward(X), rtol=1e-12, atol=1e-15)

    # Text below the first line, a short row, a width the model does not take: one clear error each.
    lines = (tmp_path / "Xh.csv").read_text().splitlines()
    for case, text, message in [
        ("text", [*lines[:3], "1,2,oops,4,5", *lines[3:]], "line 4: 'oops' is not a number"),
        ("short", [*lines[:2], "1,2,3,4", *lines[2:]], "line 3: 4 values, the first row has 5"),
        ("width", [",".join(["1"] * 4)] * 3, "has 4 columns, the model takes 5 inputs"),
        ("empty", [names], "no rows of numbers"),
    ]:
        bad = tmp_path / f"{case}.csv"
        bad.write_text("\n".join(text) + "\n")
        out = subprocess.run([str(exe), str(path), str(bad)], capture_output=True, text=True)
        assert out.returncode == 1 and message in out.stderr, (case, out.stderr)


def test_cli_prints_cmake_dir():
    out = subprocess.run([sys.executable, "-m", "fastmlp", "--cmake-dir"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == fm.cmake_dir()


def example_predictions(exe, model_path, csv_path):
    """(outputs, class names per row, the "classes:" line's names) the example prints for a CSV."""
    done = subprocess.run([str(exe), str(model_path), str(csv_path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("loaded "))
    outputs = [line for line in lines[start:] if line and line[0] in "0123456789-"]
    rows = [re.fullmatch(r"row (\d+): (.*)", line) for line in lines if line.startswith("row ")]
    assert [int(m.group(1)) for m in rows] == list(range(len(rows)))
    classes = next((line.split()[1:] for line in lines if line.startswith("classes:")), None)
    got = np.array([[float(v) for v in line.split(",")] for line in outputs])
    return got, [m.group(2) for m in rows], classes


def test_the_example_prints_class_names_of_a_dataframe_model(tmp_path, example_exe):
    """A model fitted on a DataFrame (Normalization in front, string classes): the example takes the
    model's columns by name from the CSV's header (another order, a target column beside them) and
    prints predict's class names."""
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(4)
    ids = np.arange(120) % 3
    X = rng.normal(size=(120, 3)) * [1.0, 5.0, 0.1] + 2.0 * np.eye(3)[ids] * [1.0, 5.0, 0.1] + [50, -20, 3]
    df = pd.DataFrame(X, columns=["petal length", "width", "x3"])
    y = np.array(["setosa", "versicolor", "virginica"])[ids]
    norm = fm.Normalization()
    norm.adapt(df)
    model = fm.Sequential([norm, fm.Dense(8, "tanh"), fm.Dense(3, "softmax")], dtype="float64", seed=5)
    model.fit(df, y, epochs=60, verbose=0)
    model.save(tmp_path / "iris.safetensors")
    shuffled = df[["x3", "petal length", "width"]].assign(species=y)  # another order, the target too
    shuffled.to_csv(tmp_path / "rows.csv", index=False, float_format="%.17g")
    outputs, labels, classes = example_predictions(example_exe, tmp_path / "iris.safetensors", tmp_path / "rows.csv")
    assert classes == ["setosa", "versicolor", "virginica"]
    expected = fm.load(tmp_path / "iris.safetensors").predict(df)
    assert labels == expected.tolist() and len(set(labels)) == 3
    np.testing.assert_allclose(outputs, model.forward(df), rtol=1e-12, atol=1e-15)

    shuffled.drop(columns="width").to_csv(tmp_path / "short.csv", index=False)
    done = subprocess.run(
        [str(example_exe), str(tmp_path / "iris.safetensors"), str(tmp_path / "short.csv")],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1 and "the header has no column 'width'" in done.stderr, done.stderr


@pytest.mark.parametrize("labels", [["cat", "dog", "owl"], [3, 7, 9]], ids=["strings", "integers"])
def test_the_example_agrees_with_a_cli_trained_model(tmp_path, example_exe, labels):
    """``python -m fastmlp train rows.csv`` (standardization in the model, the classes in the file):
    the example on the same CSV (header, target column) prints what ``fm.load(...).predict`` and
    ``python -m fastmlp predict`` give."""
    rng = np.random.default_rng(6)
    X = rng.normal(loc=[100, -3, 0.5], scale=[30, 1, 0.01], size=(90, 3))
    ids = (X[:, 0] > 100).astype(int) + (X[:, 1] > -3)
    y = np.array(labels)[ids]
    rows = ["a,b,c,animal"] + [f"{a!r},{b!r},{c!r},{t}" for (a, b, c), t in zip(X.tolist(), y.tolist())]
    (tmp_path / "rows.csv").write_text("\n".join(rows) + "\n")
    cli = [sys.executable, "-m", "fastmlp"]
    for args in (
        ["train", "rows.csv", "--epochs", "30", "--no-progress"],
        ["predict", "model.safetensors", "rows.csv"],
    ):
        done = subprocess.run(
            [*cli, *args, "--out", "model.safetensors" if args[0] == "train" else "p.csv"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stdout + done.stderr
    model = fm.load(tmp_path / "model.safetensors")
    assert model.classes_.tolist() == labels and isinstance(model.layers[0], fm.Normalization)
    outputs, names, classes = example_predictions(example_exe, tmp_path / "model.safetensors", tmp_path / "rows.csv")
    assert classes == [str(c) for c in labels]
    expected = [str(c) for c in model.predict(X)]
    assert names == expected and len(set(names)) > 1
    assert names == (tmp_path / "p.csv").read_text().split()[1:]  # the CLI's predictions, under a header
    np.testing.assert_allclose(outputs, model.forward(X), rtol=1e-5, atol=1e-6)  # a float32 model, in double


@pytest.mark.parametrize("target", ["class", "score"], ids=["classifier", "regressor"])
def test_the_example_predicts_a_cli_model_on_text_columns(tmp_path, example_exe, target):
    """A CSV with text, bool and category columns, empty cells in numeric and text columns, unseen
    categories and a category with a comma and quotes (as pandas' to_csv quotes it): ``python -m
    fastmlp train`` builds the tabular model (ColumnEmbedding(fill_missing=True); a regressor's last
    layer Normalization(invert=True)), and the example on the raw CSV prints what ``fm.load(...).predict
    (pd.read_csv(...))`` and ``python -m fastmlp predict`` give."""
    pd = pytest.importorskip("pandas")
    from test_cli_tabular import mixed_csvs

    train, test = mixed_csvs(tmp_path, target)
    for path in (train, test):  # a category that needs quotes, in both files
        df = pd.read_csv(path)
        df["city"] = df["city"].replace("city_00", 'Paris, "FR"')
        df.to_csv(path, index=False)
    assert '"Paris, ""FR"""' in test.read_text()
    cli = [sys.executable, "-m", "fastmlp"]
    out = "p.csv" if target == "class" else "p.npy"
    for args in (
        ["train", str(train), "--target", target, "--epochs", "4", "--no-progress", "--out", "m.safetensors"],
        ["predict", "m.safetensors", str(test), "--out", out],
    ):
        done = subprocess.run([*cli, *args], cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
    model = fm.load(tmp_path / "m.safetensors")
    assert isinstance(model.layers[1], fm.ColumnEmbedding)
    rows = pd.read_csv(test).drop(columns=[target])
    assert rows["city"].isna().any() and rows["age"].isna().any() and (rows["city"] == "nowhere").any()
    outputs, names, classes = example_predictions(example_exe, tmp_path / "m.safetensors", test)
    np.testing.assert_allclose(outputs, model.forward(rows), rtol=1e-5, atol=1e-5)  # a float32 model, in double
    if target == "class":
        assert classes == [str(c) for c in model.classes_]
        assert names == [str(c) for c in model.predict(rows)] and len(set(names)) > 1
        assert names == (tmp_path / "p.csv").read_text().split()[1:]  # the CLI's, under a header
    else:
        assert isinstance(model.layers[-1], fm.Normalization) and model.layers[-1].invert
        np.testing.assert_allclose(outputs[:, 0], np.load(tmp_path / "p.npy"), rtol=1e-5)

    # a cell a numeric column cannot take: the line and the column
    text = test.read_text().splitlines()
    header = text[0].split(",")
    i = next(i for i in range(3, len(text)) if '"' not in text[i])
    cells = text[i].split(",")
    cells[header.index("age")] = "old"
    (tmp_path / "bad.csv").write_text("\n".join([*text[:i], ",".join(cells), *text[i + 1 :]]) + "\n")
    done = subprocess.run(
        [str(example_exe), str(tmp_path / "m.safetensors"), str(tmp_path / "bad.csv")], capture_output=True, text=True
    )
    message = f"line {i + 1}: 'old' is not a number (row {i - 1}, column 'age')"
    assert done.returncode == 1 and message in done.stderr, done.stderr
