"""Every Python block of the README runs on its own (issue 13, point 8), in a fresh interpreter
in a temporary folder; a block whose first line is "# needs a GPU" runs only where CUDA does."""

import contextlib
import io
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fastmlp as fm

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_the_readme_has_python_blocks():
    assert len(BLOCKS) >= 6


@pytest.mark.parametrize(
    "i", [pytest.param(i, marks=[pytest.mark.gpu] * b.startswith("# needs a GPU")) for i, b in enumerate(BLOCKS)]
)
def test_readme_block_runs(i, tmp_path):
    code = BLOCKS[i]
    if code.startswith("# needs a GPU") and not fm.cuda_available():
        pytest.skip("needs a GPU")
    for module in ("sklearn", "onnxruntime", "onnx"):
        if f"import {module}" in code or f"from {module}" in code or f"fm.{module}" in code:
            pytest.importorskip(module)
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"README block {i} failed:\n{code}\n{done.stderr[-3000:]}"


# The numbers the README's comments state, checked with a tolerance (the blocks run in this process).


def block_with(*needles: str) -> str:
    found = [b for b in BLOCKS if all(n in b for n in needles)]
    assert len(found) == 1, f"expected one README block with {needles}, found {len(found)}"
    return found[0]


def run_block(code: str) -> dict:
    scope: dict = {}
    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile(code, str(README), "exec"), scope)
    return scope


def test_first_example_reaches_its_stated_accuracy():
    pytest.importorskip("sklearn")
    code = block_with("load_digits", "[loss, accuracy], about")
    stated = float(re.search(r"#\s*\[loss, accuracy\], about ([0-9.]+)", code).group(1))
    scope = run_block(code)
    loss, acc = scope["model"].evaluate(scope["X_test"], scope["y_test"])
    assert abs(acc - stated) <= 0.015, f"README says about {stated}, the example gives {acc:.4f}"


def test_xor_example_gives_its_stated_results():
    scope = run_block(block_with("# XOR", "check_gradients"))
    assert scope["model"].predict(scope["X"]).tolist() == [0, 1, 1, 0]  # "# [0 1 1 0]"
    assert float(fm.check_gradients(scope["model"], scope["X"], scope["y"])) < 1e-6  # "~1e-8"


def test_hand_set_gate_gives_its_stated_results():
    scope = run_block(block_with("gate.layers[0].weights"))
    assert np.asarray(scope["gate"].predict(scope["X"])).tolist() == [0, 1, 1, 1]  # "# [0 1 1 1]"
