"""The README's C++ and C blocks ("Use from C++", "From C and other languages") compile and run as
written: each block is the body of `main` in a project built with the README's CMake block against the
installed package, on an iris model saved from Python; what they compute is checked against Python's."""

import re
import subprocess

import numpy as np
import pytest

import fastmlp as fm
from cmake_projects import ROOT, cmake_project, have_toolchain

pytestmark = pytest.mark.skipif(not have_toolchain(), reason="needs cmake and a C++ compiler")

README = (ROOT / "README.md").read_text(encoding="utf-8")
ROW = np.array([[5.1, 3.5, 1.4, 0.2]], dtype=np.float32)  # the row both blocks predict


def block(lang: str, after: str) -> str:
    """The first ```lang block after the heading `after`."""
    start = README.index(after)
    return re.search(rf"```{lang}\n(.*?)```", README[start:], re.S).group(1)


def as_main(code: str, prints: str) -> str:
    """Includes and using-directives stay at file scope; the other lines become main's body, then `prints`."""
    lines = code.splitlines()
    top = [line for line in lines if line.startswith(("#include", "using namespace"))]
    body = [line for line in lines if line not in top]
    return "\n".join([*top, "int main(void) {", *body, prints, "return 0;", "}", ""])


@pytest.fixture(scope="module")
def readme_programs(tmp_path_factory):
    """(folder with model.safetensors, the C++ program, the C program, the Python model)."""
    from sklearn.datasets import load_iris

    src = tmp_path_factory.mktemp("readme_src")
    cpp = "#include <cstdio>\n#include <string>\n#include <vector>\n" + as_main(
        block("cpp", "## Use from C++"),
        'for (int i = 0; i < 4; ++i) std::printf("p %.9g\\n", double(p(i, 0)));\n'
        'std::printf("name %s\\n", names.at(0).c_str());\n'
        'std::printf("loaded %d\\n", int(loaded.num_layers()));',
    )
    c = "#include <stdint.h>\n#include <stdio.h>\n#include <fastmlp/fastmlp.h>\n" + as_main(
        block("c", "### From C and other languages"),
        "const char* label = NULL;\nfastmlp_model_class_label(model, (size_t)k, &label);\n"
        'printf("proba %.9g %.9g %.9g\\nclass %d %s\\n", proba[0], proba[1], proba[2], (int)k, label);\n'
        "fastmlp_workspace_free(ws);\nfastmlp_model_free(model);",
    )
    (src / "main.cpp").write_text(cpp)
    (src / "main.c").write_text(c)
    cmake = block("cmake", "## Use from C++")  # the README's own CMake lines, then the C program
    (src / "CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.18)\nproject(readme LANGUAGES C CXX)\n"
        + cmake
        + "add_executable(app_c main.c)\ntarget_link_libraries(app_c PRIVATE fastmlp::c)\n"
    )
    build = tmp_path_factory.mktemp("readme_build")
    cmake_project(src, build)

    iris = load_iris()
    model = fm.Sequential(
        [fm.Normalization(), fm.Dense(16, activation="relu"), fm.Dense(3, activation="softmax")], seed=0
    )
    model.fit(iris.data, iris.target_names[iris.target], epochs=100, verbose=0)
    run_dir = tmp_path_factory.mktemp("readme_run")
    model.save(run_dir / "model.safetensors")
    return run_dir, build / "app", build / "app_c", model


def _run(exe, cwd) -> dict:
    """The program's output lines "key value" as {key: [value, ...]}."""
    done = subprocess.run([str(exe)], cwd=cwd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    out = {}
    for line in done.stdout.splitlines():
        key, _, value = line.partition(" ")
        out.setdefault(key, []).append(value)
    return out


def test_the_cpp_block_trains_xor_and_predicts_a_python_model(readme_programs):
    run_dir, app, _, model = readme_programs
    out = _run(app, run_dir)
    np.testing.assert_array_equal(np.array(out["p"], dtype=float).round(), [0, 1, 1, 0])  # XOR, 3000 epochs
    assert out["name"] == [model.predict(ROW)[0]] == ["setosa"]
    assert out["loaded"] == [str(len(model.dense_layers))]  # load_network: the Dense layers of the file


def test_the_c_block_predicts_as_python(readme_programs):
    run_dir, _, app_c, model = readme_programs
    out = _run(app_c, run_dir)
    proba = model.predict_proba(ROW)[0]
    np.testing.assert_allclose(np.array(out["proba"][0].split(), dtype=float), proba, atol=1e-6)
    k, label = out["class"][0].split()
    assert label == model.predict(ROW)[0] == "setosa" and int(k) == int(np.argmax(proba))
