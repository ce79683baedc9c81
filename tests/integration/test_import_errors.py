"""An import error against the real sandbox: a broken DAG file in a temporary DAG folder (linked
into the sandbox's DAGs folder under a hidden name, which Airflow scans and the sandbox's own
readiness check skips) shows on the Import errors page with its server, file and escaped error,
and on the DAG list's banner; once the file is fixed it disappears.  The link is removed whatever
happens."""

from __future__ import annotations

import re
import uuid
from html import unescape
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import sandbox_settings, wait_until

pytestmark = pytest.mark.integration

BROKEN = '''"""A DAG file the console's tests break on purpose (an airflow dag file)."""
from airflow.sdk import dag

raise RuntimeError("console test: <b>broken</b> on purpose")
'''
FIXED = '''"""The same airflow dag file, fixed: it imports and defines no DAG."""
from airflow.sdk import dag  # noqa: F401
'''
#: Airflow parses a changed file within DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL (10 s in the
#: sandbox): a guard against a hang on a busy machine, not a promise.
PATIENCE = 300


@pytest.fixture
def dag_folder(tmp_path: Path) -> Any:
    """A temporary DAG folder the sandbox scans, and the broken file's name in it."""
    folder = tmp_path / "dags"
    folder.mkdir()
    name = f"broken_{uuid.uuid4().hex[:8]}.py"
    (folder / name).write_text(BROKEN)
    link = sandbox_settings().dags_folder / f".console-test-{uuid.uuid4().hex[:8]}"
    link.symlink_to(folder, target_is_directory=True)
    try:
        yield folder, name
    finally:
        link.unlink(missing_ok=True)


def test_a_broken_dag_file_is_listed_until_it_is_fixed(login_as, sandbox_server, dag_folder) -> None:
    folder, name = dag_folder
    viewer = login_as("viewer")

    def listed() -> str | None:
        html = viewer.get(f"/admin/import-errors/?q={name}").get_data(as_text=True)
        return html if f"{name}</code>" in html else None

    html = wait_until(listed, PATIENCE, f"the import error of {name} on the page", interval=2)
    card = re.search(r'data-testid="import-error" data-server="sandbox" data-file="([^"]+)"', html)
    assert card and card.group(1).endswith(name)
    trace = re.search(r'data-testid="import-error-trace">(.*?)</pre>', html, re.S)
    assert trace and "RuntimeError: console test: &lt;b&gt;broken&lt;/b&gt; on purpose" in trace.group(1)
    assert "<b>broken</b>" not in html  # the error is text, never markup
    assert "<time datetime=" in html.split('data-testid="import-error"', 1)[1]  # when Airflow last tried

    dags = viewer.get("/admin/dags/").get_data(as_text=True)
    banner = re.search(r'data-testid="import-errors-banner">(.*?)</div>\s*</div>', dags, re.S)
    assert banner and "to import</strong> on sandbox" in unescape(banner.group(1))
    assert 'href="/admin/import-errors/"' in banner.group(1)
    home = viewer.get("/admin/").get_data(as_text=True)
    assert 'data-testid="import-errors-link"' in home and name in home

    (folder / name).write_text(FIXED)
    wait_until(lambda: not listed(), PATIENCE, f"the import error of {name} to go", interval=2)
