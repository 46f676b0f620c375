"""The documentation builds with warnings as errors, gallery included (the README's command)."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS_EXTRA = ("sphinx", "furo", "myst_parser", "numpydoc", "sphinx_gallery", "matplotlib")
missing = [name for name in DOCS_EXTRA if importlib.util.find_spec(name) is None]
pytestmark = pytest.mark.skipif(
    bool(missing), reason=f"the docs extra is not installed (no {', '.join(missing)}): pip install '.[docs]'"
)


def test_docs_build_without_warnings(tmp_path):
    out = tmp_path / "html"
    env = dict(os.environ, MPLBACKEND="Agg")
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-W",
            "--keep-going",
            "-b",
            "html",
            "-q",
            "-d",
            str(tmp_path / "doctrees"),
            str(ROOT / "docs"),
            str(out),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=1200,
    )
    assert run.returncode == 0, f"sphinx failed:\n{run.stdout[-5000:]}\n{run.stderr[-10000:]}"
    for page in (
        "index",
        "getting_started",
        "math",
        "performance",
        "reliability",
        "scaling",
        "file_format",
        "building",
        "api/python",
        "api/sklearn",
        "api/cli",
        "api/cpp",
        "auto_examples/index",
    ):
        assert (out / f"{page}.html").is_file(), page
    # Every gallery script ran and rendered its page; those that plot left images.
    scripts = sorted((ROOT / "examples").glob("*/plot_*.py"))
    assert len(scripts) >= 14
    for script in scripts:
        page = out / "auto_examples" / script.parent.name / f"{script.stem}.html"
        assert page.is_file(), page
        if "plt.show()" in script.read_text():
            assert list((out / "_images").glob(f"sphx_glr_{script.stem}_*.png")), f"no figure from {script.name}"
    # The API reference was generated from the docstrings.
    api = (out / "api" / "python.html").read_text()
    for name in ("fastmlp.Sequential.fit", "fastmlp.Sequential.trace", "fastmlp.check_gradients"):
        assert f'id="{name}"' in api, name
    assert "Network&lt;T&gt;" in (out / "api" / "cpp.html").read_text()
