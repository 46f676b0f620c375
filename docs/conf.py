"""Sphinx configuration: furo, MyST pages, numpydoc API reference, sphinx-gallery.

Build (offline, warnings are errors):  python -m sphinx -W -b html docs docs/_build/html
"""
from __future__ import annotations

import importlib.util
import os
import re
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
# Offline: no intersphinx, nothing fetched at build time. MathJax is copied into the
# site when sphinx-mathjax-offline is installed (the docs extra has it), so the formulas
# render without a network too; otherwise the pages load MathJax from its CDN.
if importlib.util.find_spec("sphinx-mathjax-offline") is not None:
    extensions.append("sphinx-mathjax-offline")

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
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",      # run every plot_*.py
    "subsection_order": ["../examples/lecture", "../examples/backprop", "../examples/practice"],
    "within_subsection_order": "FileNameSortKey",
    "capture_repr": ("_repr_html_", "__repr__"),
    "download_all_examples": False,
    "remove_config_comments": True,
    "matplotlib_animations": False,
    "image_scrapers": ("matplotlib",),
    "show_memory": False,
    "write_computation_times": False,   # its page loads scripts from CDNs
}
os.environ.setdefault("MPLBACKEND", "Agg")


def _write(path: Path, text: str) -> None:
    """Write only when changed, so Sphinx's incremental builds stay incremental."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def _generate_cli_help() -> None:
    """`fastmlp --help` and every subcommand's help, for api/cli.md."""
    try:
        from fastmlp.cli.parser import build_parser
    except ImportError:                 # before the CLI became a package
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


_ESCAPES = [
    (re.compile(r"(?<!\\)\|"), r"\|"),                       # |x| is an absolute value, not a substitution
    (re.compile(r"(?<=\w)_(?=[\s.,;:)]|$)"), r"\_"),          # classes_ is an attribute, not a link target
]


def _plain_docstring_text(app, what, name, obj, options, lines):
    """The docstrings are written as plain text: keep |x| and trailing underscores literal.

    Runs after numpydoc; text inside ``double backquotes`` is left alone.
    """
    for i, line in enumerate(lines):
        parts = line.split("``")
        for j in range(0, len(parts), 2):                       # outside ``...``
            for pattern, repl in _ESCAPES:
                parts[j] = pattern.sub(repl, parts[j])
        lines[i] = "``".join(parts)


_SECTION_RULE = re.compile(r"^\s*-{3,}\s*$")
_BULLET = re.compile(r"^(\s*)([*+-]|\d+[.)]) +")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _literal_indented_blocks(app, what, name, obj, options, lines):
    """Plain-text docstrings indent formulas and code right under a sentence.

    reST would read that as an error ("unexpected indentation"); make each such
    block a literal block instead (a blank line before it, an invisible " ::" at
    the end of the sentence, a blank line after it). Runs before numpydoc and
    stops at the first numpydoc section ("Parameters" over a rule of dashes).
    Bullet continuations and directive bodies are left as they are.
    """
    out, block_indent = [], None
    for k, line in enumerate(lines):
        if k + 1 < len(lines) and line.strip() and _SECTION_RULE.match(lines[k + 1]):
            out.extend(lines[k:])
            break
        if line.strip():
            prev = out[-1] if out else ""
            if block_indent is not None and _indent(line) <= block_indent:
                if prev.strip():
                    out.append("")
                block_indent = None
            if block_indent is None and prev.strip() and _indent(line) > _indent(prev):
                bullet = _BULLET.match(prev)
                continuation = bullet is not None and _indent(line) == len(bullet.group(0))
                if not continuation and not prev.lstrip().startswith(".. "):
                    if not prev.rstrip().endswith("::"):
                        out[-1] = prev.rstrip() + " ::"
                    out.append("")
                    block_indent = _indent(prev)
        out.append(line)
    lines[:] = out


def setup(app):
    _generate_cli_help()
    _generate_cpp_headers()
    app.connect("autodoc-process-docstring", _literal_indented_blocks, priority=400)   # before numpydoc (500)
    app.connect("autodoc-process-docstring", _plain_docstring_text, priority=600)      # after it
