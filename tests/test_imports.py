"""No import cycle in the fastmlp package, counting the imports inside functions too."""

import ast
from pathlib import Path

import fastmlp as fm

# Extension modules (fastmlp._core), wherever the install put them.
COMPILED = {"fastmlp." + p.name.split(".")[0] for folder in fm.__path__ for p in Path(folder).glob("*.so")}


def _module_names(files: dict) -> dict:
    """{dotted module name: source} from {path relative to the package's parent: source}."""
    out = {}
    for rel, source in files.items():
        parts = list(Path(rel).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = (source, rel.endswith("__init__.py"))
    return out


def import_graph(files: dict, compiled=()) -> dict:
    """{module: set of the package's modules it imports anywhere in its code}; `compiled` names the
    extension modules (no source, so no imports of their own)."""
    modules = _module_names(files)
    modules.update({name: ("", False) for name in compiled})
    graph = {}
    for name, (source, is_package) in modules.items():
        package = name if is_package else name.rpartition(".")[0]
        targets = set()
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = package.split(".")
                base = ".".join(base[: len(base) - node.level + 1]) if node.level else ""
                base = ".".join(p for p in (base, node.module or "") if p)
                for alias in node.names:  # a submodule, or a name from the module `base`
                    targets.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base)
        graph[name] = {_known(t, modules) for t in targets} - {None, name}
    return {name: targets for name, targets in graph.items() if modules[name][0] or targets}


def _known(target: str, modules: dict):
    while target and target not in modules:  # fastmlp.model.Sequential -> fastmlp.model
        target = target.rpartition(".")[0]
    return target or None


def find_cycle(graph: dict):
    """A list of modules that import each other in a circle, or None."""
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_the_checker_finds_a_cycle_through_a_function_level_import():
    files = {
        "pkg/__init__.py": "from .a import f\n",
        "pkg/a.py": "def f():\n    from . import b\n",
        "pkg/b.py": "import pkg.a\n",
        "pkg/c.py": "from pkg import a\n",
    }
    graph = import_graph(files)
    assert graph == {"pkg": {"pkg.a"}, "pkg.a": {"pkg.b"}, "pkg.b": {"pkg.a"}, "pkg.c": {"pkg.a"}}
    assert find_cycle(graph) == ["pkg.a", "pkg.b", "pkg.a"]
    assert find_cycle({"x": {"y"}, "y": set()}) is None


def test_fastmlp_has_no_import_cycle():
    files = {}
    for folder in map(Path, reversed(fm.__path__)):
        files.update({str(p.relative_to(folder.parent)): p.read_text() for p in folder.rglob("*.py")})
    graph = import_graph(files, COMPILED)
    assert "fastmlp._core" in COMPILED
    assert {"fastmlp", "fastmlp.io", "fastmlp.model", "fastmlp.cli", "fastmlp.cli.commands"} <= set(graph)
    assert "fastmlp.io" in graph["fastmlp.model"]  # the graph is real: the model uses the codec
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))
    # the codec knows networks and metadata, not models, and nothing reaches into the package's __init__
    assert graph["fastmlp.io"] == {"fastmlp._core"}
    assert not any("fastmlp" in graph[m] for m in ("fastmlp.io", "fastmlp.onnx"))
