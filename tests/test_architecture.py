"""Architecture rules, checked on the source text (nothing is imported or run).

* ``test_import_graph_has_no_cycle``: the modules of ``dqn_agents`` depend one way only.
  Every import counts: module level, inside functions and under ``if TYPE_CHECKING:``
  (a function-local import is still a dependency, only a later one).
* ``test_no_private_name_crosses_a_module``: a ``_private`` name (one leading underscore,
  not a dunder) is used only by the module that defines it. ``dqn_agents/``, ``tests/``,
  ``benchmarks/`` and ``docs/`` are checked alike: a test that needs a private name means
  that the name should be public (or live elsewhere).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "dqn_agents"
CHECKED_FOLDERS = ("dqn_agents", "tests", "benchmarks", "docs")

#: Private attributes of third-party objects that the project reads on purpose, with
#: their owner. A fake in ``tests/`` that imitates the owner defines them too, which
#: would otherwise make them look like project names.
THIRD_PARTY_PRIVATE = {"_frameskip": "ale_py.env.AtariEnv (imitated by tests/fake_ale.py)"}

_PRIVATE = re.compile(r"_[^_]\w*")


def is_private(name: str) -> bool:
    """Whether ``name`` is private: one leading underscore, then a letter or digit."""
    return _PRIVATE.fullmatch(name) is not None


@cache
def parse(path: Path) -> ast.Module:
    """The syntax tree of a source file (cached: both tests read the same files)."""
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def where(path: Path, node: ast.stmt) -> str:
    """``folder/file.py:line`` of a statement, for failure messages."""
    return f"{path.relative_to(ROOT)}:{node.lineno}"


# --------------------------------------------------------------------------- import graph


def package_modules() -> dict[str, Path]:
    """Dotted name -> file of every module of the package (``pkg/__init__.py`` is ``pkg``)."""
    modules = {}
    for path in sorted((ROOT / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def imported_modules(
    module: str, path: Path, known: Mapping[str, Path]
) -> Iterator[tuple[str, ast.stmt]]:
    """Every module that ``module`` imports, with the import statement.

    ``from pkg import name`` imports the submodule ``pkg.name`` when that is a module of
    the package, else ``pkg`` itself. Relative imports are resolved. The parents of an
    imported module are not added (``import a.b.c`` is an edge to ``a.b.c`` only).
    """
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(parse(path)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                yield (submodule if submodule in known else base), node


@dataclass(frozen=True)
class Edge:
    """``source`` imports ``target`` at ``location`` (the first such import)."""

    source: str
    target: str
    location: str

    def __str__(self) -> str:
        return f"{self.source} -> {self.target}  ({self.location})"


def import_graph() -> dict[str, dict[str, Edge]]:
    """The package's internal imports: module -> {imported module -> first edge}."""
    known = package_modules()
    graph: dict[str, dict[str, Edge]] = {name: {} for name in known}
    for module, path in known.items():
        for target, node in imported_modules(module, path, known):
            if target in known and target != module and target not in graph[module]:
                graph[module][target] = Edge(module, target, where(path, node))
    return graph


def strongly_connected(graph: Mapping[str, Mapping[str, Edge]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def cycle_in(component: list[str], graph: Mapping[str, Mapping[str, Edge]]) -> list[Edge]:
    """One cycle through the first module of a strongly connected component, as edges."""
    start, members = component[0], set(component)
    # Breadth-first from `start` inside the component gives a shortest way back to it.
    came_from: dict[str, Edge] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for target, edge in sorted(graph[node].items()):
                if target not in members or target in came_from:
                    continue
                came_from[target] = edge
                if target == start:
                    cycle = [edge]
                    while cycle[0].source != start:
                        cycle.insert(0, came_from[cycle[0].source])
                    return cycle
                following.append(target)
        frontier = following
    raise AssertionError(f"{component} is not strongly connected")  # pragma: no cover


def test_import_graph_has_no_cycle() -> None:
    graph = import_graph()
    assert graph.get(f"{PACKAGE}.agent"), "the graph was not read"
    components = strongly_connected(graph)
    report = []
    for component in components:
        report.append(f"  {len(component)} modules import each other: {', '.join(component)}")
        report.append("  the shortest cycle through the first of them:")
        report.extend(f"    {edge}" for edge in cycle_in(component, graph))
        report.append("  all imports inside the group:")
        members = set(component)
        report.extend(
            f"    {edge}"
            for source in component
            for target, edge in sorted(graph[source].items())
            if target in members
        )
    assert not components, (
        "Import cycles in dqn_agents (modules must depend one way only: wrappers -> "
        "replay/networks/envs/spec/devices -> learner/checkpoint -> evaluation -> agent -> "
        "hub/cli). Move the shared code down a layer or pass it in:\n" + "\n".join(report)
    )


# --------------------------------------------------------------------------- private names


def checked_files() -> list[Path]:
    """The Python files whose private names are checked."""
    return sorted(p for folder in CHECKED_FOLDERS for p in (ROOT / folder).rglob("*.py"))


def defined_private_names(tree: ast.Module) -> set[str]:
    """Private names a file defines.

    Functions, classes, assigned names, arguments, and attributes assigned on ``self`` or
    ``cls``. (``other._x = 1`` does not define ``_x``: it writes someone else's name.)
    """
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif (
            isinstance(node, ast.Attribute)
            and isinstance(node.ctx, ast.Store)
            and isinstance(node.value, ast.Name)
            and node.value.id in ("self", "cls")
        ):
            names.add(node.attr)
    return {name for name in names if is_private(name)}


#: A dotted module name of the package written as a string (``importlib.import_module``).
_MODULE_STRING = re.compile(rf"{PACKAGE}(\.\w+)+")


def private_imports(tree: ast.Module) -> Iterator[tuple[ast.stmt | ast.expr, str]]:
    """Imports of a private name or of a module with a private part in its dotted name.

    A string that spells a private module of the package (``"dqn_agents.x._y"``, for
    ``importlib.import_module``) counts as an import of it.
    """
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            spelled = _MODULE_STRING.fullmatch(node.value) is not None
            if spelled and any(is_private(part) for part in node.value.split(".")):
                yield node, f"names the private module {node.value!r}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if any(is_private(part) for part in alias.name.split(".")):
                    yield node, f"imports the private module {alias.name}"
        elif isinstance(node, ast.ImportFrom):
            module = "." * node.level + (node.module or "")
            if any(is_private(part) for part in (node.module or "").split(".")):
                yield node, f"imports from the private module {module}"
            for alias in node.names:
                if is_private(alias.name):
                    yield node, f"imports the private name {alias.name} from {module}"


#: Calls that reach an attribute by its name: ``getattr(obj, "_x")``,
#: ``monkeypatch.setattr(module, "_x", fake)``...
BY_NAME_CALLS = {"getattr", "setattr", "hasattr", "delattr"}


def attribute_uses(tree: ast.Module) -> Iterator[tuple[ast.expr, str, str]]:
    """Every attribute a file reaches on an object: ``(node, name, how)``.

    ``obj.name`` (read or written) and the by-name calls of `BY_NAME_CALLS` with a
    literal name.
    """
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            verb = "reads" if isinstance(node.ctx, ast.Load) else "writes"
            yield node, node.attr, f"{verb} {ast.unparse(node)}"
        elif isinstance(node, ast.Call) and len(node.args) >= 2:
            func = node.func
            called = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            name = node.args[1]
            if called in BY_NAME_CALLS and isinstance(name, ast.Constant):
                if isinstance(name.value, str):
                    yield node, name.value, f"uses {ast.unparse(node)}"


def foreign_private_attributes(
    tree: ast.Module, own: set[str], project: set[str]
) -> Iterator[tuple[ast.expr, str]]:
    """Uses of attributes that are private names of another project file.

    Names the project never defines belong to other libraries and are not this rule's
    business (``THIRD_PARTY_PRIVATE`` lists those that a test fake imitates).
    """
    for node, name, how in attribute_uses(tree):
        if (
            is_private(name)
            and name in project
            and name not in own
            and name not in THIRD_PARTY_PRIVATE
        ):
            yield node, f"{how}, private to another module"


def test_no_private_name_crosses_a_module() -> None:
    files = checked_files()
    assert any(p.name == "agent.py" for p in files), "the project files were not found"
    defined = {path: defined_private_names(parse(path)) for path in files}
    project = set().union(*defined.values())
    violations: set[tuple[str, int, str]] = set()
    for path in files:
        tree = parse(path)
        found: list[tuple[ast.stmt | ast.expr, str]] = [
            *private_imports(tree),
            *foreign_private_attributes(tree, defined[path], project),
        ]
        violations.update((str(path.relative_to(ROOT)), node.lineno, what) for node, what in found)
    report = [f"  {file}:{line} {what}" for file, line, what in sorted(violations)]
    assert not violations, (
        f"{len(violations)} uses of private names outside the module that defines them. "
        "Make the name public (no leading underscore, documented) or move the code that "
        "needs it into that module:\n" + "\n".join(report)
    )


# --------------------------------------------------------------------------- the checks' checks


def test_cycle_report_on_a_small_graph() -> None:
    def edges(source: str, *targets: str) -> dict[str, Edge]:
        return {t: Edge(source, t, f"{source}.py:1") for t in targets}

    graph = {
        "a": edges("a", "b"),
        "b": edges("b", "c"),
        "c": edges("c", "a", "d"),
        "d": edges("d"),
        "e": edges("e", "d"),
    }
    assert strongly_connected(graph) == [["a", "b", "c"]]
    cycle = cycle_in(["a", "b", "c"], graph)
    assert [(e.source, e.target) for e in cycle] == [("a", "b"), ("b", "c"), ("c", "a")]
    assert strongly_connected({"a": edges("a", "b"), "b": edges("b")}) == []


def test_private_name_rules_on_a_snippet() -> None:
    owner = ast.parse("class A:\n    def __init__(self):\n        self._x = 1\n_y = 2\n")
    user = ast.parse(
        "from m import _y\n"
        "import pkg._mod\n"
        "importlib.import_module('dqn_agents._hidden')\n"
        "a._x\n"
        "a._x = 3\n"
        "getattr(a, '_x')\n"
        "a._other\n"  # not a project name: someone else's business
        "a.__dict__\n"
    )
    own, project = defined_private_names(user), defined_private_names(owner)
    assert project == {"_x", "_y"} and own == set()
    found = [
        what
        for _, what in (*private_imports(user), *foreign_private_attributes(user, own, project))
    ]
    assert found == [
        "imports the private name _y from m",
        "imports the private module pkg._mod",
        "names the private module 'dqn_agents._hidden'",
        "reads a._x, private to another module",
        "writes a._x, private to another module",
        "uses getattr(a, '_x'), private to another module",
    ]
