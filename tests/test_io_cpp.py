"""Model files through the C++ reader/writer (tests/cpp/serialize_tool.cpp): files written by Python
load in C++ and back, malformed files are refused, and a fuzz run agrees with Python."""

import re
import subprocess

import numpy as np
import pytest

import fastmlp as fm
from helpers_io import ARCHS, BAD_FILES, _mutations, assert_same_model, build, make_model, randomize

# ----------------------------------------------------------------------------- the C++ reader/writer


@pytest.fixture(scope="module")
def cpp_tool(cpp_tests_build):
    """tests/cpp/serialize_tool.cpp (built with CMake, against the installed package): runs fastmlp's
    C++ load_network / save_network."""
    exe = cpp_tests_build / "serialize_tool"

    def run(*args, check=True):
        res = subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True, errors="replace", timeout=120)
        if check:
            assert res.returncode == 0, f"{args}: rc={res.returncode}\n{res.stderr}"
        return res

    return run


def _cpp_predict(cpp_tool, tmp_path, path, X, ctype):
    xfile = tmp_path / "X.bin"
    np.ascontiguousarray(X, dtype="<f8").tofile(xfile)
    out = cpp_tool("predict", ctype, path, xfile, X.shape[0], X.shape[1]).stdout
    return np.array([[float(v) for v in line.split()] for line in out.strip().splitlines()])


CPP_ARCHS = ARCHS + [([4, 6, 3], ["relu", "softmax"], "categorical_crossentropy")]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("arch", CPP_ARCHS, ids=lambda a: "-".join(a[1]))
def test_cpp_loads_python_files(cpp_tool, tmp_path, arch, dtype):
    model = build(*arch, dtype=dtype, l2=0.5)
    randomize(model, 11)
    path = tmp_path / "py.safetensors"
    model.save(path)
    X = np.random.default_rng(3).normal(size=(13, model.n_features_in))
    expected = model.forward(X)
    same = "float" if dtype == "float32" else "double"
    # same dtype: equal up to summation order (the Python module may be built with other SIMD flags)
    tol = {"rtol": 1e-5, "atol": 1e-6} if same == "float" else {"rtol": 1e-12, "atol": 1e-13}
    np.testing.assert_allclose(_cpp_predict(cpp_tool, tmp_path, path, X, same), expected, **tol)
    other = "double" if same == "float" else "float"
    got = _cpp_predict(cpp_tool, tmp_path, path, X, other)  # converted on load
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_cpp_save_round_trip(cpp_tool, tmp_path, dtype):
    model = make_model(dtype)
    randomize(model, 4)
    model.save(tmp_path / "a.safetensors")
    ctype = "float" if dtype == "float32" else "double"
    cpp_tool("resave", ctype, tmp_path / "a.safetensors", tmp_path / "b.safetensors")
    again = fm.load(tmp_path / "b.safetensors")  # C++-written, read by Python
    assert again.params.tobytes() == model.params.tobytes()
    assert (again.loss_name, again.dtype, again.l2) == (model.loss_name, model.dtype, model.l2)
    assert [repr(x) for x in again.layers] == [repr(x) for x in model.layers]
    st = pytest.importorskip("safetensors.numpy")
    assert sorted(st.load_file(str(tmp_path / "b.safetensors"))) == sorted(
        f"layers.{i}.{s}" for i in range(3) for s in ("weight", "bias")
    )
    # converting dtype on load, then saving, writes the other dtype
    other = "double" if ctype == "float" else "float"
    cpp_tool("resave", other, tmp_path / "a.safetensors", tmp_path / "c.safetensors")
    conv = fm.load(tmp_path / "c.safetensors")
    assert conv.dtype == (np.float64 if other == "double" else np.float32)
    np.testing.assert_allclose(conv.params, model.params, rtol=1e-6)
    # a failed save leaves the old file: the target folder does not exist -> error, nothing written
    res = cpp_tool("resave", ctype, tmp_path / "a.safetensors", tmp_path / "missing" / "d.safetensors", check=False)
    assert res.returncode == 3 and "cannot create" in res.stderr


def test_cpp_reads_dropout_and_alpha(cpp_tool, tmp_path):
    layers = [
        fm.Dense(4, 8, "leaky_relu", alpha=0.2),
        fm.Dropout(0.3),
        fm.Dense(8, 6, "elu", alpha=0.7, init="he_normal"),
        fm.Dense(6, 5, "softplus"),
        fm.Dropout(0.1),
        fm.Dense(5, 2, "softmax"),
    ]
    model = fm.Sequential(layers, dtype="float64", seed=4)  # the default optimizer: a C++-resaved file holds none
    randomize(model, 2)
    model.save(tmp_path / "d.safetensors")
    info = cpp_tool("info", "double", tmp_path / "d.safetensors").stdout.splitlines()
    rows = [line.split() for line in info[1:]]
    assert [r[2] for r in rows] == [x.activation for x in model.layers if isinstance(x, fm.Dense)]
    assert [float(r[4]) for r in rows] == [0.3, 0.0, 0.1, 0.0]
    assert float(rows[0][3]) == 0.2 and float(rows[1][3]) == 0.7
    assert [r[5] for r in rows] == ["default", "he_normal", "default", "default"]
    X = np.random.default_rng(1).normal(size=(7, 4))
    np.testing.assert_allclose(
        _cpp_predict(cpp_tool, tmp_path, tmp_path / "d.safetensors", X, "double"),
        model.forward(X),
        rtol=1e-12,
        atol=1e-13,
    )
    cpp_tool("resave", "double", tmp_path / "d.safetensors", tmp_path / "e.safetensors")
    assert_same_model(model, fm.load(tmp_path / "e.safetensors"))


def test_cpp_rejects_malformed_files(cpp_tool, tmp_path):
    paths = []
    for i, (make, _) in enumerate(BAD_FILES.values()):
        p = tmp_path / f"bad{i}.safetensors"
        p.write_bytes(make())
        paths.append(p)
    res = cpp_tool("check", "float", *paths)
    lines = res.stdout.splitlines()
    assert len(lines) == len(paths)
    for name, line in zip(BAD_FILES, lines):
        assert line.startswith("ERR not a valid fastmlp model file"), (name, line)


def test_cpp_fuzz_agrees_with_python(cpp_tool, tmp_path):
    """Mutated files: the C++ reader never crashes and accepts exactly what Python accepts."""
    rng = np.random.default_rng(777)
    valid = make_model("float32").to_bytes()
    paths, python_ok = [], []
    for i, raw in enumerate(_mutations(valid, rng, 1200)):
        p = tmp_path / f"m{i}.st"
        p.write_bytes(raw)
        paths.append(p)
        try:
            fm.Sequential.from_bytes(raw)
            python_ok.append(True)
        except ValueError as e:
            python_ok.append(e)
    res = cpp_tool("check", "float", *paths)
    assert res.returncode == 0, res.stderr  # no crash, no signal
    lines = res.stdout.splitlines()
    assert len(lines) == len(paths)
    cpp_ok = [line == "OK" for line in lines]
    assert all(line == "OK" or line.startswith("ERR ") for line in lines)
    disagree = [
        (i, lines[i], python_ok[i])
        for i in range(len(paths))
        if cpp_ok[i] != (python_ok[i] is True)
        and not (cpp_ok[i] and re.search("optimizer|epochs_trained", str(python_ok[i])))
    ]
    assert not disagree, disagree[:5]


def test_more_than_64_layer_entries(tmp_path, cpp_tool):
    layers = []
    for _ in range(40):
        layers += [fm.Dense(5, 5, "tanh"), fm.Dropout(0.1)]
    model = fm.Sequential(layers + [fm.Dense(5, 2, "softmax")], dtype="float64", seed=1)  # 81 entries
    path = tmp_path / "deep.safetensors"
    model.save(path)
    assert_same_model(model, fm.load(path))
    info = cpp_tool("info", "double", path).stdout.splitlines()
    assert len(info) == 1 + 41 and info[1].split()[4] == "0.10000000000000001"
