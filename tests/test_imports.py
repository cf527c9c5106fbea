"""The package's import graph: no cycles between its files, and the black-box side imports without torch."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = "mxbench"
ROOT = Path(__file__).resolve().parents[1] / PACKAGE


def module_files(root: Path = ROOT) -> dict[str, Path]:
    """Every module of the package: dotted name -> file (a package is its ``__init__.py``)."""
    files = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        files[".".join(parts)] = path
    return files


def _is_package(name: str, files: dict[str, Path]) -> bool:
    return files[name].name == "__init__.py"


def imported_modules(name: str, files: dict[str, Path]) -> set[str]:
    """The package's modules that module ``name`` imports anywhere in its file (module level or in a function).

    ``import a.b`` and ``from a.b import c`` name ``a.b``; ``from a import b`` names the submodule
    ``a.b`` when there is one, else ``a`` (its ``__init__``). Relative imports are resolved
    against the module's package. Names outside the package are left out.
    """
    tree = ast.parse(files[name].read_text(encoding="utf-8"), filename=str(files[name]))
    package = name if _is_package(name, files) else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:
                sub = f"{source}.{alias.name}"
                found.add(sub if sub in files else source)
    return {m for m in found if m in files and m != name}


def import_graph(files: dict[str, Path] | None = None) -> dict[str, set[str]]:
    """Module -> the package's modules it imports."""
    files = module_files() if files is None else files
    return {name: imported_modules(name, files) for name in files}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (or a module importing itself), sorted.

    Examples
    --------
    >>> cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}})
    [['a', 'b']]
    """
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's algorithm
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or v in graph.get(v, ()):
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(found)


def _path(graph: dict[str, set[str]], component: list[str]) -> list[str]:
    """One closed import path through a component, to name the cycle: ``[a, b, ..., a]``."""
    members = set(component)
    start = component[0]
    parents = {start: None}
    queue = [start]
    while queue:  # breadth first: the shortest way back to the start
        v = queue.pop(0)
        for w in sorted(graph[v] & members):
            if w == start:
                path = [v]
                while parents[path[-1]] is not None:
                    path.append(parents[path[-1]])
                return path[::-1] + [start]
            if w not in parents:
                parents[w] = v
                queue.append(w)
    return component  # pragma: no cover - a component always closes


def test_graph_reads_every_kind_of_import(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("from pkg import a\n")
    (pkg / "a.py").write_text("import pkg.sub.b\n")
    (pkg / "sub" / "__init__.py").write_text("from pkg.sub import b\nfrom pkg import name_only\n")
    (pkg / "sub" / "b.py").write_text("def f():\n    from ..a import g\n    from . import c\n")
    (pkg / "sub" / "c.py").write_text("from pkg import sub\n")
    files = module_files(pkg)
    assert sorted(files) == ["pkg", "pkg.a", "pkg.sub", "pkg.sub.b", "pkg.sub.c"]
    graph = import_graph(files)
    assert graph == {"pkg": {"pkg.a"}, "pkg.a": {"pkg.sub.b"}, "pkg.sub": {"pkg.sub.b", "pkg"},
                     "pkg.sub.b": {"pkg.a", "pkg.sub.c"}, "pkg.sub.c": {"pkg.sub"}}
    assert cycles(graph) == [["pkg", "pkg.a", "pkg.sub", "pkg.sub.b", "pkg.sub.c"]]
    assert _path(graph, ["pkg.a", "pkg.sub.b"]) == ["pkg.a", "pkg.sub.b", "pkg.a"]


def test_no_import_cycles():
    graph = import_graph()
    assert len(graph) > 40  # the walk found the package
    found = cycles(graph)
    assert not found, "import cycles between the package's files:\n" + "\n".join(
        f"{len(c)} modules: {', '.join(c)}\n  e.g. {' -> '.join(_path(graph, c))}" for c in found)


@pytest.mark.parametrize("code", [
    "import sys, mxbench.explainers as X; X.KernelSHAP; print('torch' in sys.modules)",
    "import sys, mxbench.explainers as X; X.get_explainer('lemon'); 'expert_maps' in X.EXPLAINERS; "
    "print('torch' in sys.modules)",
    "import sys, mxbench; mxbench.generate('smoke', instances=16); print('torch' in sys.modules)",
    "import sys, mxbench.validation; print('torch' in sys.modules)",
])
def test_black_box_side_imports_without_torch(code):
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False", code


def test_the_registry_names_each_class_by_its_own_name():
    from mxbench.explainers import EXPLAINERS, Unimodal, WhiteBoxExplainer
    from mxbench.explainers.base import Explainer

    assert EXPLAINERS["unimodal"] is Unimodal
    for name, cls in EXPLAINERS.items():
        assert issubclass(cls, (Explainer, WhiteBoxExplainer)), name
        assert name == "unimodal" or cls.name == name, (name, cls)
