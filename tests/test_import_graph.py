"""The packages ``llm2llm`` and ``baselines`` are layered: no import circles, no upward imports.

Layers keep a module readable on its own: ``errors`` and ``config`` at the bottom (config imports
nothing of the harness but its errors), the run records (``rundir``, ``tracking``) below everything
that fills or reads them (methods, student, teacher, loop, report, main), the loop and the CLI on
top. A circle means neither side can be read, tested or loaded without the other, and an
import-order accident away from an ``ImportError`` on a partly initialised module.

The graph is read from the source with ``ast``, so nothing is imported and the test takes well
under a second. Its rules:

- Every ``import`` statement counts, at module level and inside functions alike: a function-level
  import only postpones the circle, it does not remove it.
- An edge points at a module of these packages: ``import a.b.c`` at ``a.b.c``; ``from a.b import c``
  at the submodule ``a.b.c`` when there is one, else at ``a.b`` (the name comes from the package's
  ``__init__``). Relative imports are resolved against the importing module. Imports of other
  packages are ignored.
- A package's ``__init__`` is a module like any other. Python runs it before any of its
  submodules, but that implicit parent import is not an edge: an ``__init__`` that imports its own
  submodules (a registry, re-exports) is fine as long as none of them imports a name from that
  ``__init__`` back. ``from pkg import submodule`` is therefore allowed inside ``pkg``;
  ``from pkg import SomeClass`` (defined in or re-exported by ``pkg/__init__.py``) is not, if
  ``pkg/__init__.py`` reaches the importing module.

The cycle test fails with each strongly connected component: its modules, one shortest circle
through it, and the import lines (file:line) that make up the component; a layer test with the
shortest chain of imports that goes upward.
"""

from __future__ import annotations

import ast
from collections import deque
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("llm2llm", "baselines")

Edges = dict[str, dict[str, list[str]]]  # module -> imported module -> ["file:line", ...]


def module_files() -> dict[str, Path]:
    """Dotted module name -> source file, for every .py file of the packages."""
    modules: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def _known_prefix(name: str, modules: dict[str, Path]) -> str | None:
    """The longest prefix of ``name`` that is a module of the packages (None: another package)."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules:
            return candidate
        parts.pop()
    return None


def _targets(node: ast.Import | ast.ImportFrom, module: str, is_package: bool,
             modules: dict[str, Path]) -> list[str]:
    if isinstance(node, ast.Import):
        return [t for t in (_known_prefix(alias.name, modules) for alias in node.names) if t]
    if node.level:
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        source = ".".join(base + ([node.module] if node.module else []))
    else:
        source = node.module or ""
    targets = []
    for alias in node.names:
        submodule = f"{source}.{alias.name}"
        target = submodule if submodule in modules else _known_prefix(source, modules)
        if target:
            targets.append(target)
    return targets


def import_graph() -> Edges:
    """Module -> the modules of the packages it imports, with where each import is written."""
    modules = module_files()
    graph: Edges = {m: {} for m in modules}
    for module, path in modules.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for target in _targets(node, module, path.name == "__init__.py", modules):
                    if target != module:
                        where = f"{path.relative_to(ROOT)}:{node.lineno}"
                        places = graph[module].setdefault(target, [])
                        if where not in places:
                            places.append(where)
    return graph


def strongly_connected(graph: Edges) -> list[list[str]]:
    """Tarjan's algorithm: the components with more than one module, each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
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
            if len(component) > 1:
                components.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(components)


def shortest_cycle(graph: Edges, component: list[str]) -> list[str]:
    """A shortest circle through the component's first module, staying inside the component."""
    start, members = component[0], set(component)
    parent: dict[str, str] = {}
    queue = deque([start])
    while queue:
        v = queue.popleft()
        for w in sorted(graph[v]):
            if w == start:
                path = [v]
                while path[-1] != start:
                    path.append(parent[path[-1]])
                return list(reversed(path)) + [start]
            if w in members and w not in parent:
                parent[w] = v
                queue.append(w)
    raise AssertionError(f"no circle through {start} in {component}")


def describe(graph: Edges, components: list[list[str]]) -> str:
    lines = []
    for component in components:
        lines.append(f"cycle: {' -> '.join(shortest_cycle(graph, component))}")
        lines.append(f"  component ({len(component)} modules): {', '.join(component)}")
        for v in component:
            for w, where in sorted(graph[v].items()):
                if w in component:
                    lines.append(f"    {v} -> {w}  ({', '.join(where)})")
    return "\n".join(lines)


def test_graph_reads_the_imports_it_should() -> None:
    """The reader resolves each import form the docstring lists (so an empty result means something)."""
    graph = import_graph()
    assert "llm2llm.config" in graph["llm2llm.student"]  # from llm2llm.config import to_plain
    assert "llm2llm.student.predict" in graph["llm2llm.student"]  # module level
    assert "llm2llm.student.vllm_eval" in graph["llm2llm.student"]  # function level
    assert "llm2llm.methods.s2l" in graph["llm2llm.methods"]  # from llm2llm.methods import s2l
    assert any(t.startswith("llm2llm.") for t in graph["baselines.s2l"])  # across the two packages
    assert "llm2llm.teacher.core" in graph["llm2llm.teacher"]  # a package __init__ re-exporting
    assert not any(t.startswith(("torch", "transformers")) for t in graph["llm2llm.student.train"])


def test_relative_imports_resolve(tmp_path: Path) -> None:
    modules = {"p": tmp_path, "p.a": tmp_path, "p.b": tmp_path, "p.sub": tmp_path, "p.sub.c": tmp_path}
    rel = ast.parse("from . import b\nfrom .sub import c\nfrom .. import a\nfrom . import NAME").body
    assert _targets(rel[0], "p.a", False, modules) == ["p.b"]  # type: ignore[arg-type]
    assert _targets(rel[1], "p.a", False, modules) == ["p.sub.c"]  # type: ignore[arg-type]
    assert _targets(rel[2], "p.sub.c", False, modules) == ["p.a"]  # type: ignore[arg-type]
    assert _targets(rel[3], "p.sub", True, modules) == ["p.sub"]  # type: ignore[arg-type]


def test_tarjan_finds_each_component() -> None:
    graph: Edges = {"a": {"b": []}, "b": {"a": [], "c": []}, "c": {"d": []}, "d": {"c": []}, "e": {"a": []}}
    assert strongly_connected(graph) == [["a", "b"], ["c", "d"]]
    assert shortest_cycle(graph, ["c", "d"]) == ["c", "d", "c"]
    assert upward_path(graph, "e", ("c",)) == ["e", "a", "b", "c"]
    assert upward_path(graph, "c", ("a",)) is None


def test_config_is_the_bottom_layer() -> None:
    """Every layer reads the config schema, so it imports nothing of the harness but its errors."""
    graph = import_graph()
    config = [m for m in graph if m == "llm2llm.config" or m.startswith("llm2llm.config.")]
    assert len(config) > 1
    for module in config:
        outside = {m for m in graph[module] if m != "llm2llm.config" and not m.startswith("llm2llm.config.")}
        assert outside <= {"llm2llm.errors"}, (module, outside)


#: modules that record a run (its directory, its W&B log) sit below every module that produces or
#: reads results, so these must not reach them, directly or through other modules
RECORDS = ("llm2llm.rundir", "llm2llm.tracking")
ABOVE_RECORDS = ("llm2llm.methods", "llm2llm.student", "llm2llm.teacher", "llm2llm.loop", "llm2llm.report",
                 "llm2llm.main")


def upward_path(graph: Edges, module: str, above: tuple[str, ...]) -> list[str] | None:
    """A shortest import chain from ``module`` to a module under one of ``above`` (None: there is none)."""
    parent: dict[str, str] = {}
    queue = deque([module])
    while queue:
        v = queue.popleft()
        for w in sorted(graph[v]):
            if w in parent or w == module:
                continue
            parent[w] = v
            if any(w == top or w.startswith(top + ".") for top in above):
                path = [w]
                while path[-1] != module:
                    path.append(parent[path[-1]])
                return list(reversed(path))
            queue.append(w)
    return None


def test_run_records_sit_below_what_fills_them() -> None:
    graph = import_graph()
    for module in RECORDS:
        path = upward_path(graph, module, ABOVE_RECORDS)
        assert path is None, f"{module} imports upward: " + "  ".join(
            f"{a} -> {b} ({', '.join(graph[a][b])})" for a, b in zip(path, path[1:]))


def test_no_import_cycles() -> None:
    graph = import_graph()
    components = strongly_connected(graph)
    assert not components, "import cycles in llm2llm/baselines:\n" + describe(graph, components)
