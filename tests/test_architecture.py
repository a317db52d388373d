"""The house rules, checked from the code's own imports (docs/ARCHITECTURE.md).

Every import counts, also one inside a function: a deferred import hides a dependency,
it does not remove it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APPS = ("accounts", "contests", "core", "leaderboard", "realtime", "web")
PROJECT = ("contestsite",)
MAX_MODULE_LINES = 450


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _sources() -> dict[str, Path]:
    modules = {}
    for package in (*APPS, *PROJECT):
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" not in path.parts:
                modules[_module_name(path)] = path
    return modules


MODULES = _sources()


def _imports(module: str) -> Iterator[str]:
    """The project modules `module` imports (a `from package import submodule` names the
    submodule)."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            names = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        else:
            continue
        for name in names:
            if name in MODULES:
                yield name


GRAPH = {module: sorted(set(_imports(module)) - {module}) for module in MODULES}


def _app(module: str) -> str:
    return module.split(".")[0]


def _violations(rule) -> list[str]:
    return [f"{m} imports {i}" for m, imported in GRAPH.items() for i in imported if rule(m, i)]


def test_no_app_imports_the_project_package():
    assert _violations(lambda m, i: _app(m) in APPS and _app(i) == "contestsite") == []


def test_the_domain_reaches_realtime_only_through_its_way_out():
    def breaks(module: str, imported: str) -> bool:
        return (
            _app(module) in ("contests", "leaderboard", "accounts")
            and _app(imported) == "realtime"
            and not (imported == "realtime.outbound" or imported.startswith("realtime.outbound."))
        )

    assert _violations(breaks) == []


def test_the_way_out_does_not_import_the_way_in():
    way_in = ("realtime.consumers", "realtime.middleware", "realtime.routing", "realtime.session")
    assert _violations(lambda m, i: m.startswith("realtime.outbound") and i in way_in) == []


def test_core_imports_no_app():
    assert _violations(lambda m, i: _app(m) == "core" and _app(i) != "core") == []


def _cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in GRAPH[node]:
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
                found.append(sorted(component))

    for module in sorted(GRAPH):
        if module not in index:
            visit(module)
    return found


def test_no_modules_import_each_other():
    assert _cycles() == []


@pytest.mark.parametrize("module", sorted(m for m in MODULES if _app(m) in APPS))
def test_no_module_of_an_app_is_longer_than_the_house_limit(module):
    lines = MODULES[module].read_text().count("\n")
    assert lines <= MAX_MODULE_LINES, f"{module}: {lines} lines; split it by sub-domain"
