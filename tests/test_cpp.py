"""The C++ side, built as outside projects against the installed package:
the ctest suite in tests/cpp and the embedding example in examples/cpp."""
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


def test_embedding_example_trains_and_loads_a_python_model(tmp_path):
    build = tmp_path / "build"
    cmake_project(ROOT / "examples" / "cpp", build)
    exe = build / "fastmlp_example"
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
    out = subprocess.run([str(exe), str(path), str(tmp_path / "X.csv")], capture_output=True, text=True,
                         check=True).stdout
    rows = [line for line in out.splitlines() if line and line[0] in "0123456789-" and "," in line]
    got = np.array([[float(v) for v in line.split(",")] for line in rows])
    np.testing.assert_allclose(got, model.forward(X), rtol=1e-12, atol=1e-15)


def test_cli_prints_cmake_dir():
    out = subprocess.run([sys.executable, "-m", "fastmlp", "--cmake-dir"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == fm.cmake_dir()
