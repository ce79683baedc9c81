"""The sandbox runner is a development tool: the web app and the scheduler never load it."""

from __future__ import annotations

import ast
from pathlib import Path

import console

CONSOLE = Path(console.__file__).parent
SANDBOX = CONSOLE / "airflow" / "sandbox"
SANDBOX_MODULE = "console.airflow.sandbox"


def imports_sandbox(node: ast.AST) -> bool:
    if isinstance(node, ast.Import):
        return any(a.name == SANDBOX_MODULE or a.name.startswith(SANDBOX_MODULE + ".") for a in node.names)
    if isinstance(node, ast.ImportFrom):
        module = node.module or ""
        if module == SANDBOX_MODULE or module.startswith(SANDBOX_MODULE + "."):
            return True
        return module == "console.airflow" and any(a.name == "sandbox" for a in node.names)
    return False


def modules_outside_sandbox() -> list[Path]:
    return [p for p in sorted(CONSOLE.rglob("*.py")) if SANDBOX not in p.parents]


def test_services_admin_and_scheduler_never_import_the_sandbox() -> None:
    offenders = [
        str(path.relative_to(CONSOLE))
        for package in ("services", "admin", "scheduler")
        for path in sorted((CONSOLE / package).rglob("*.py"))
        if any(imports_sandbox(node) for node in ast.walk(ast.parse(path.read_text())))
    ]
    assert offenders == []


def test_no_console_module_imports_the_sandbox_at_import_time() -> None:
    """``create_app`` registers the CLI in every process; the CLI imports the sandbox inside its commands."""
    offenders = [
        str(path.relative_to(CONSOLE))
        for path in modules_outside_sandbox()
        if any(imports_sandbox(node) for node in ast.parse(path.read_text()).body)
    ]
    assert offenders == []


def test_the_sandbox_does_not_locate_the_repository_from_its_own_files() -> None:
    """Installed, the package is not in a checkout: callers say where the sandbox and its DAGs are."""
    assert [p.name for p in sorted(SANDBOX.glob("*.py")) if "__file__" in p.read_text()] == []
