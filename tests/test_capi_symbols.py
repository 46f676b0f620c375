"""What the installed libfastmlp_c.so exports and what it asks of the system (issue 29): exactly the
functions fastmlp/fastmlp.h declares, nothing of the core, Eigen or the C++ runtime (the version script
cpp/capi/fastmlp_c.map; the manylinux wheel links libstdc++.a into it, .ci/zig), and every symbol it
needs carries a version or is weak (an unversioned one is looked up by name in whatever libc is there:
on an older glibc it may be missing and the library would not load)."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

import fastmlp as fm

LIB_DIR = Path(fm.cmake_dir()).parents[1]
LIB_PATH = LIB_DIR / "libfastmlp_c.so"
HEADER = LIB_DIR.parent / "include" / "fastmlp" / "fastmlp.h"

pytestmark = pytest.mark.skipif(shutil.which("nm") is None, reason="needs nm (binutils)")


def declared_functions() -> set:
    """The functions the installed header declares for export (FASTMLP_C_EXPORT ... fastmlp_name(...))."""
    text = re.sub(r"/\*.*?\*/", "", HEADER.read_text(), flags=re.S)  # comments name functions too
    names = set(re.findall(r"FASTMLP_C_EXPORT\b[^;(]*?\b(fastmlp_\w+)\s*\(", text))
    assert len(names) >= 20, names  # the header's form changed: this test would check nothing
    return names


def dynamic_symbols(*flags) -> list:
    """(type, name, version or '') for each dynamic symbol nm lists with `flags`."""
    out = subprocess.run(["nm", "-D", *flags, str(LIB_PATH)], capture_output=True, text=True, check=True).stdout
    rows = []
    for line in out.splitlines():
        kind, symbol = line.split()[-2:]
        name, _, version = symbol.partition("@")
        rows.append((kind, name, version.lstrip("@")))
    return rows


def test_exports_exactly_the_headers_functions():
    defined = dynamic_symbols("--defined-only")
    extra = sorted(f"{kind} {name}" for kind, name, _ in defined if not name.startswith("fastmlp_"))
    assert not extra, f"libfastmlp_c.so exports symbols that are not the C API's: {extra}"
    assert {name for _, name, _ in defined} == declared_functions()
    assert {kind for kind, _, _ in defined} == {"T"}  # functions, none weak (a weak one could be replaced)


def test_every_needed_symbol_is_versioned_or_weak():
    undefined = dynamic_symbols("--undefined-only")
    assert undefined  # libc's at least
    bare = sorted(name for kind, name, version in undefined if not version and kind != "w")
    assert not bare, f"unversioned undefined symbols (may be missing on an older glibc): {bare}"
