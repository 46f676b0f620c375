"""The API reference documents every public name (issue 28, deliverable 5).

Public: the names in ``fastmlp.__all__`` and in each public submodule's ``__all__`` (or, for a
submodule without one, the classes and functions it defines without a leading underscore). Each
must have its own autodoc entry (``.. autoclass::``, ``autofunction``, ``autoexception`` or ``data``)
in the reference pages; the docs build (``sphinx -W`` in .ci/run) then fails if an entry does not
resolve, so together they check the built reference.
"""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

import pytest

import fastmlp as fm

DOCS = Path(__file__).resolve().parents[1] / "docs"
# The submodules a user imports by name (fm.callbacks.ModelCheckpoint, fm.data.from_npy, ...).
PUBLIC_SUBMODULES = ("callbacks", "schedules", "data", "io", "onnx", "plot", "sklearn")


def reference_text() -> str:
    pages = sorted((DOCS / "api").glob("*.rst")) + sorted(DOCS.glob("*.md"))
    return "\n".join(p.read_text(encoding="utf-8") for p in pages)


def public_names(module) -> list:
    names = getattr(module, "__all__", None)
    if names is not None:
        return list(names)
    return [
        n
        for n, v in vars(module).items()
        if not n.startswith("_") and (inspect.isclass(v) or inspect.isfunction(v)) and v.__module__ == module.__name__
    ]


def documented(text: str, qualified: str) -> bool:
    directive = r"\.\. (?:autoclass|autofunction|autoexception|autodata|data)::\s+"
    return re.search(directive + re.escape(qualified) + r"\s*$", text, flags=re.M) is not None


TOP = [n for n in fm.__all__ if not inspect.ismodule(getattr(fm, n))]
SUB = [(m, n) for m in PUBLIC_SUBMODULES for n in public_names(importlib.import_module(f"fastmlp.{m}"))]


def test_the_lists_are_not_empty():
    assert len(TOP) > 20 and len(SUB) > 30


@pytest.mark.parametrize("name", TOP)
def test_top_level_name_is_in_the_reference(name):
    text = reference_text()  # python.rst sets ``currentmodule:: fastmlp``: the bare name, or where it is defined
    homes = [name, f"fastmlp.{name}"] + [f"fastmlp.{m}.{name}" for m in ("layers", "optimizers", "losses")]
    assert any(documented(text, home) for home in homes), f"fm.{name} is not in docs/api"


@pytest.mark.parametrize(("module", "name"), SUB)
def test_submodule_name_is_in_the_reference(module, name):
    assert documented(reference_text(), f"fastmlp.{module}.{name}"), f"fastmlp.{module}.{name} is not in the docs"


def test_the_check_fails_for_an_undocumented_name():
    assert not documented(reference_text(), "fastmlp.NoSuchName")
