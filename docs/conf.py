"""Sphinx configuration: furo, MyST pages, numpydoc API reference, sphinx-gallery.

Build (offline, warnings are errors):  python -m sphinx -W -b html docs docs/_build/html
"""
from __future__ import annotations

import os
from pathlib import Path

import fastmlp

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
GENERATED = DOCS / "_generated"

project = "fastmlp"
author = "the fastmlp authors"
copyright = "fastmlp authors"
release = version = fastmlp.__version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]
# Offline: no intersphinx, nothing fetched at build time.

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "_generated", "**.ipynb_checkpoints", "auto_examples/**/*.ipynb",
                    "auto_examples/**/*.py", "auto_examples/**/*.zip", "auto_examples/**/*.md5",
                    "auto_examples/**/*.pickle", "auto_examples/**/*.codeobj.json"]
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3

html_theme = "furo"
html_title = f"fastmlp {release}"
html_static_path = []

autodoc_member_order = "bysource"
autodoc_typehints = "none"            # numpydoc shows the signature; the docstrings say the types
numpydoc_show_class_members = False   # members are listed explicitly in api/*.rst
numpydoc_xref_param_type = False

sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",      # run every plot_*.py
    "subsection_order": [str(ROOT / "examples" / d) for d in ("lecture", "backprop", "practice")],
    "within_subsection_order": "FileNameSortKey",
    "capture_repr": ("_repr_html_", "__repr__"),
    "download_all_examples": False,
    "remove_config_comments": True,
    "matplotlib_animations": False,
    "image_scrapers": ("matplotlib",),
    "show_memory": False,
}
os.environ.setdefault("MPLBACKEND", "Agg")


def _write(path: Path, text: str) -> None:
    """Write only when changed, so Sphinx's incremental builds stay incremental."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def _generate_cli_help() -> None:
    """`fastmlp --help` and every subcommand's help, for api/cli.md."""
    from fastmlp.__main__ import build_parser

    os.environ["COLUMNS"] = "100"     # argparse wraps to the terminal width
    parser = build_parser()
    out = [parser.format_help()]
    subparsers = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    for name, sub in subparsers.choices.items():
        out.append(f"\n$ fastmlp {name} --help\n" + sub.format_help())
    _write(GENERATED / "cli_help.txt", "$ fastmlp --help\n" + "".join(out))


def _generate_cpp_headers() -> None:
    """One section per public header, each starting with its contract comment."""
    headers = sorted((ROOT / "cpp" / "include" / "fastmlp").glob("*.hpp"))
    parts = []
    for h in headers:
        title = f"fastmlp/{h.name}"
        # A leading "/" is the source folder (docs/), whichever page includes this file.
        parts.append(f"{title}\n{'-' * len(title)}\n\n.. literalinclude:: /../cpp/include/fastmlp/{h.name}\n"
                     "   :language: cpp\n\n")
    _write(GENERATED / "cpp_headers.rst", "".join(parts))


_generate_cli_help()
_generate_cpp_headers()
