"""The checked-in type stubs (python/fastmlp/_core.pyi) describe the compiled module as it is:
every public function, class and method of fastmlp._core appears in them, and nothing else."""

import ast
from pathlib import Path

import fastmlp as fm
from fastmlp import _core

STUB = Path(fm.__file__).with_name("_core.pyi")


def _stub_names():
    tree = ast.parse(STUB.read_text())
    top, members = set(), {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            top.add(node.name)
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            top.add(node.target.id)
        if isinstance(node, ast.ClassDef):
            members[node.name] = {n.name for n in node.body if isinstance(n, ast.FunctionDef)}
    return top, members


def test_stub_and_py_typed_are_shipped():
    assert STUB.is_file()
    assert STUB.with_name("py.typed").is_file()


def test_stub_matches_the_compiled_module():
    top, members = _stub_names()
    public = {n for n in _core.__all__} if hasattr(_core, "__all__") else set()
    public |= {
        n
        for n in dir(_core)
        if not n.startswith("_")
        and callable(getattr(_core, n))
        and getattr(getattr(_core, n), "__module__", "").startswith("fastmlp._core")
    }
    assert public - top == set(), f"missing from _core.pyi: {sorted(public - top)}"
    for cls, names in members.items():
        obj = getattr(_core, cls)
        real = {n for n in vars(obj) if not n.startswith("_") and callable(getattr(obj, n))}
        assert real - names == set(), f"{cls}: missing from _core.pyi: {sorted(real - names)}"
        assert names - set(dir(obj)) == set(), f"{cls}: _core.pyi lists methods that do not exist"
    assert "LEVEL" in top and isinstance(_core.LEVEL, str)
