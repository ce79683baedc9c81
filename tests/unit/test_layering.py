"""The package's imports run one way and every package imports on its own.

Layers, lowest first: config -> extensions/database/versioning/instance -> models ->
security -> airflow -> services -> scheduler/admin/jobs/health -> cli -> the app factory.
A module may import its own layer or lower ones, never a higher one, and the module
graph (lazy imports inside functions included) has no cycle between modules.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "console"
LAYER = {
    "config": 0,
    "extensions": 1,
    "metrics": 1,
    "database": 1,
    "versioning": 1,
    "instance": 1,
    "models": 2,
    "security": 3,
    "airflow": 4,
    "services": 5,
    "scheduler": 6,
    "admin": 6,
    "jobs": 6,
    "health": 6,
    "observability": 6,
    "cli": 7,
    "": 8,  # console/__init__.py: create_app wires everything
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """Every ``console`` module imported anywhere in ``path`` (function bodies included)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name in modules)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module in modules:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if submodule in modules else node.module)
    return found


def graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts}
    edges: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = {t for t in imports_of(path, set(modules)) if t != name}
        edges[name] = targets
    return edges


def layer(module: str) -> int:
    parts = module.split(".")
    return LAYER[parts[1] if len(parts) > 1 else ""]


def test_every_module_belongs_to_a_layer() -> None:
    unknown = sorted(m for m in graph() if [*m.split("."), ""][1] not in LAYER)
    assert unknown == []


def test_imports_only_run_downwards() -> None:
    upward = sorted(f"{src} -> {dst}" for src, dsts in graph().items() for dst in dsts if layer(dst) > layer(src))
    assert upward == []


def test_no_import_cycles_between_modules() -> None:
    edges = graph()
    # Importing a package runs its __init__: a module importing its own parent package is no cycle.
    edges = {m: {t for t in ts if not m.startswith(t + ".")} for m, ts in edges.items()}
    cycles: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node)
    assert cycles == []


@pytest.mark.parametrize(
    "package",
    [
        "console.config",
        "console.models",
        "console.security",
        "console.airflow",
        "console.services",
        "console.scheduler",
        "console.admin",
        "console.jobs",
        "console.cli",
        "console",
    ],
)
def test_each_package_imports_on_its_own(package: str) -> None:
    command = [sys.executable, "-c", f"import {package}"]
    result = subprocess.run(command, capture_output=True, text=True, cwd=PACKAGE.parent)
    assert result.returncode == 0, result.stderr[-2000:]


def test_no_module_is_over_about_400_lines() -> None:
    """A module past ~400 lines is usually two things (STYLE.md); migrations are generated."""
    long = sorted(
        f"{path.relative_to(PACKAGE.parent)}: {n}"
        for path in PACKAGE.rglob("*.py")
        if "migrations" not in path.parts and (n := len(path.read_text().splitlines())) > 420
    )
    assert long == []
