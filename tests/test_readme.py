"""The README's Python examples run as written and give the numbers their comments state.

The code is read from README.md itself (its ```python blocks), so an edit to the README that
breaks an example or moves a number away from its comment fails here.
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import numpy as np
import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks() -> list:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def block_with(*needles: str) -> str:
    found = [b for b in python_blocks() if all(n in b for n in needles)]
    assert len(found) == 1, f"expected one README block with {needles}, found {len(found)}"
    return found[0]


def run_block(code: str) -> tuple:
    out = io.StringIO()
    scope: dict = {}
    with contextlib.redirect_stdout(out):
        exec(compile(code, str(README), "exec"), scope)
    return scope, out.getvalue()


def test_first_example_reaches_its_stated_accuracy():
    pytest.importorskip("sklearn")
    code = block_with("load_digits", "[loss, accuracy], about")
    stated = float(re.search(r"#\s*\[loss, accuracy\], about ([0-9.]+)", code).group(1))
    scope, _ = run_block(code)
    loss, acc = scope["model"].evaluate(scope["X_test"], scope["y_test"])
    assert abs(acc - stated) <= 0.015, f"README says about {stated}, the example gives {acc:.4f}"


def test_xor_example():
    code = block_with("# XOR", "check_gradients")
    scope, _ = run_block(code)
    assert scope["model"].predict(scope["X"]).tolist() == [0, 1, 1, 0]  # the README's "# [0 1 1 0]"
    assert fm_gradient_error(scope) < 1e-6  # "~1e-8"


def fm_gradient_error(scope) -> float:
    import fastmlp as fm

    return float(fm.check_gradients(scope["model"], scope["X"], scope["y"]))


def test_hand_set_gate_example():
    code = block_with("gate.layers[0].weights")
    scope, _ = run_block(code)
    assert np.asarray(scope["gate"].predict(scope["X"])).tolist() == [0, 1, 1, 1]  # "# [0 1 1 1]"
