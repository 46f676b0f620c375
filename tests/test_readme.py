"""Every Python block of the README runs on its own (issue 13, point 8), in a fresh interpreter
in a temporary folder; a block whose first line is "# needs a GPU" runs only where CUDA does."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

import fastmlp as fm

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_the_readme_has_python_blocks():
    assert len(BLOCKS) >= 6


@pytest.mark.parametrize("i", range(len(BLOCKS)))
def test_readme_block_runs(i, tmp_path):
    code = BLOCKS[i]
    if code.startswith("# needs a GPU") and not fm.cuda_available():
        pytest.skip("needs a GPU")
    for module in ("sklearn", "onnxruntime", "onnx"):
        if f"import {module}" in code or f"from {module}" in code or f"fm.{module}" in code:
            pytest.importorskip(module)
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"README block {i} failed:\n{code}\n{done.stderr[-3000:]}"
