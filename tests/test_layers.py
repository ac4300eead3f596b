"""Layer rules of the package, checked on the source (an AST walk, no imports run).

- ``workbench/core`` imports only numpy and the standard library (and itself).
- Only ``workbench/store`` imports fiftyone, pymongo or bson, builds MongoDB query documents
  (``"$set"``, ``"$in"``, ...), passes ``hint=``, touches FiftyOne's private attributes or the
  workspace's raw collections (``ws.samples``, ``ws.runs``, ``ws.db``, ``ws.dataset``).
- A capability imports another capability only through its ``api`` module.
- The package has no import cycle (module-level imports; ``TYPE_CHECKING`` blocks excluded).
- The App plugins reach workbench only through ``workbench`` itself or a capability's ``api``.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from workbench.cli.main import CAPABILITIES

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "workbench"
PLUGINS = ROOT / "plugins"
DATABASE_LIBS = ("fiftyone", "pymongo", "bson", "motor", "mongoengine")
RAW_WORKSPACE_ATTRS = {"samples", "runs", "db", "dataset"}
PRIVATE_FIFTYONE_ATTRS = {"_doc", "_sample_collection_name", "_frame_collection_name",
                          "_dataset"}
WORKSPACE_NAMES = {"ws", "src", "workspace", "self_ws"}


@dataclass(frozen=True)
class Import:
    """One imported module name, where it is, and whether it runs at import time."""

    module: str
    line: int
    top_level: bool


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _resolve(node: ast.ImportFrom, current: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = current.split(".")
    base = base if is_package else base[:-1]
    base = base[:len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports_of(path: Path) -> list[Import]:
    """Every import in the file; ``top_level`` when it runs at import time."""
    tree = ast.parse(path.read_text(), filename=str(path))
    current = module_name(path)
    is_package = path.name == "__init__.py"
    found: list[Import] = []

    def visit(node: ast.AST, top: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for sub in child.body:
                    visit_one(sub, False)
                for sub in child.orelse:
                    visit_one(sub, top)
                continue
            visit_one(child, top)

    def visit_one(child: ast.AST, top: bool) -> None:
        if isinstance(child, ast.Import):
            found.extend(Import(a.name, child.lineno, top) for a in child.names)
        elif isinstance(child, ast.ImportFrom):
            base = _resolve(child, current, is_package)
            found.append(Import(base, child.lineno, top))
            # ``from workbench.store import runs`` imports the module workbench.store.runs
            for a in child.names:
                candidate = f"{base}.{a.name}"
                if _module_path(candidate) is not None:
                    found.append(Import(candidate, child.lineno, top))
        elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            visit(child, False)
        else:
            visit(child, top)

    visit(tree, True)
    return found


def _module_path(name: str) -> Path | None:
    if not name.startswith("workbench"):
        return None
    rel = Path(*name.split("."))
    for candidate in (ROOT / rel.with_suffix(".py"), ROOT / rel / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def package_files() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "_data" not in p.parts
                  and "templates" not in p.parts)


def _capability(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "workbench" and parts[1] in CAPABILITIES \
        else None


def test_core_imports_only_numpy_and_the_standard_library() -> None:
    bad = []
    allowed = set(sys.stdlib_module_names) | {"numpy", "__future__"}
    for path in package_files():
        if "core" not in path.relative_to(PACKAGE).parts[:1]:
            continue
        for imp in imports_of(path):
            top = imp.module.split(".")[0]
            if top == "workbench":
                if not imp.module.startswith("workbench.core"):
                    bad.append(f"{path.relative_to(ROOT)}:{imp.line} imports {imp.module}")
            elif top not in allowed:
                bad.append(f"{path.relative_to(ROOT)}:{imp.line} imports {imp.module}")
    assert not bad, "core must import only numpy and the standard library:\n" + "\n".join(bad)


def test_only_the_store_imports_database_libraries() -> None:
    bad = [f"{path.relative_to(ROOT)}:{imp.line} imports {imp.module}"
           for path in package_files() if path.relative_to(PACKAGE).parts[0] != "store"
           for imp in imports_of(path) if imp.module.split(".")[0] in DATABASE_LIBS]
    assert not bad, "only workbench/store may import fiftyone/pymongo/bson:\n" + "\n".join(bad)


def _raw_store_access(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            for key in node.keys:
                if isinstance(key, ast.Constant) and isinstance(key.value, str) \
                        and key.value.startswith("$"):
                    found.append(f"{node.lineno}: query operator {key.value!r}")
        elif isinstance(node, ast.keyword) and node.arg == "hint":
            found.append(f"{node.value.lineno}: hint=")
        elif isinstance(node, ast.Attribute):
            if node.attr in PRIVATE_FIFTYONE_ATTRS:
                found.append(f"{node.lineno}: private attribute .{node.attr}")
            elif node.attr in RAW_WORKSPACE_ATTRS and isinstance(node.value, ast.Name) \
                    and node.value.id in WORKSPACE_NAMES:
                found.append(f"{node.lineno}: {node.value.id}.{node.attr}")
        elif isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute) \
                and node.value.attr == "__dict__":
            found.append(f"{node.lineno}: writes an object's __dict__")
    return found


def test_only_the_store_builds_queries_and_touches_collections() -> None:
    bad = [f"{path.relative_to(ROOT)}:{where}"
           for path in package_files() if path.relative_to(PACKAGE).parts[0] != "store"
           for where in _raw_store_access(path)]
    assert not bad, ("outside workbench/store: raw MongoDB queries, collections or FiftyOne "
                     "internals; add a named store function:\n" + "\n".join(bad))


def test_capabilities_use_each_other_only_through_their_api() -> None:
    bad = []
    for path in package_files():
        here = _capability(module_name(path))
        for imp in imports_of(path):
            there = _capability(imp.module)
            if there is None or there == here:
                continue
            if imp.module not in (f"workbench.{there}", f"workbench.{there}.api"):
                bad.append(f"{path.relative_to(ROOT)}:{imp.line} imports {imp.module}")
    assert not bad, "capabilities reach into each other's internals:\n" + "\n".join(bad)


def test_shared_layers_do_not_import_capabilities() -> None:
    """store, core, media and the CLI's shared helpers sit below every capability."""
    bad = []
    for path in package_files():
        layer = path.relative_to(PACKAGE).parts[0]
        if layer not in ("store", "core", "media", "registry.py", "errors.py", "resources.py",
                         "results.py",
                         "plots.py") and path.relative_to(PACKAGE).parts[:2] != ("cli",
                                                                                  "common.py"):
            continue
        bad += [f"{path.relative_to(ROOT)}:{imp.line} imports {imp.module}"
                for imp in imports_of(path) if _capability(imp.module)]
    assert not bad, "a shared layer imports a capability:\n" + "\n".join(bad)


def test_no_import_cycle() -> None:
    graph: dict[str, set[str]] = {}
    for path in package_files():
        name = module_name(path)
        graph[name] = {i.module for i in imports_of(path)
                       if i.top_level and _module_path(i.module) is not None
                       and i.module != name}
    cycle = _find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def dfs(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            # a package's __init__ is imported with every submodule: not an edge back
            if node.startswith(nxt + "."):
                continue
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt):], nxt]
            if state.get(nxt) is None:
                found = dfs(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if state.get(start) is None:
            found = dfs(start)
            if found:
                return found
    return None


def test_cycle_finder_finds_cycles() -> None:
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


@pytest.mark.parametrize("path", sorted(PLUGINS.rglob("*.py")), ids=lambda p: p.parent.name)
def test_plugins_use_only_public_workbench_modules(path: Path) -> None:
    bad = [f"{path.relative_to(ROOT)}:{imp.line} imports {imp.module}"
           for imp in imports_of(path) if imp.module.startswith("workbench")
           and imp.module != "workbench" and not (_capability(imp.module)
                                                  and imp.module.endswith(".api"))
           and imp.module not in ("workbench.errors",)]
    bad += [f"{path.relative_to(ROOT)}:{where}" for where in _raw_store_access(path)]
    assert not bad, "plugins must call workbench's public API:\n" + "\n".join(bad)
