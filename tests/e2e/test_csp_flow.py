"""In Chromium, the screens work under the nonce-only script policy: nothing is refused, and the
list actions, filters and delete confirmations (once inline handlers) still do their job.

No Airflow is needed: the tasks' server is disabled (and points at a closed port), so no page asks it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from console.extensions import db
from console.models import Task, User
from console.services import servers, tasks
from tests.conftest import browser_login, make_user

pytestmark = pytest.mark.e2e

UNREACHABLE = "http://127.0.0.1:9"
# Reports every refusal to the console, where the test collects it (init scripts are not subject to the page's CSP).
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", function (event) {
  console.error("CSP violation: " + event.violatedDirective + " " + event.blockedURI + " " + event.sample);
});
"""


@pytest.fixture
def violations(page: Any) -> Iterator[list[str]]:
    """CSP refusals seen by the browser: Chromium's own console messages and the violation events."""
    found: list[str] = []
    page.add_init_script(REPORT_VIOLATIONS)
    page.on(
        "console",
        lambda message: (
            found.append(message.text)
            if "Content Security Policy" in message.text or "CSP violation" in message.text
            else None
        ),
    )
    yield found


@pytest.fixture
def task_ids(live_server: Any) -> list[int]:
    with live_server.app.app_context():
        server = servers.register_server(name="offline", base_url=UNREACHABLE, username="u", secret="p")
        db.session.flush()
        made = [
            tasks.create_task(
                {"name": name, "server_id": server.id, "dag_id": "example", "cron": "0 5 * * *"}, check_dag=False
            )
            for name in ("nightly export", "hourly sync")
        ]
        server.enabled = False  # tasks keep it; the pages never wait on it
        db.session.commit()
        return [task.id for task in made]


def enabled(live_server: Any, task_id: int) -> bool:
    with live_server.app.app_context():
        return db.session.get(Task, task_id).enabled


def user_exists(live_server: Any, email: str) -> bool:
    with live_server.app.app_context():
        return db.session.scalar(sa.select(User.id).where(User.email == email)) is not None


def test_screens_raise_no_policy_violation(page: Any, live_server: Any, violations: list[str], task_ids) -> None:
    browser_login(page, live_server, "admin")
    for path in (
        "/admin/",
        "/admin/dags/",
        "/admin/tasks/",
        "/admin/tasks/new/",
        f"/admin/tasks/edit/?id={task_ids[0]}",
        f"/admin/tasks/details/?id={task_ids[0]}",
        "/admin/users/",
        "/admin/servers/",
    ):
        page.goto(f"{live_server.url}{path}")
        page.wait_for_load_state("load")
    page.click("a.dropdown-toggle:has-text('Admin')")
    page.click("a.dropdown-item:has-text('Users')")
    page.wait_for_url("**/admin/users/")
    assert violations == []


def test_filter_is_added_from_the_menu(page: Any, live_server: Any, violations: list[str], task_ids) -> None:
    browser_login(page, live_server, "admin")
    page.goto(f"{live_server.url}/admin/tasks/")
    page.click("text=Add Filter")
    page.click("a.filter:has-text('Enabled')")
    page.wait_for_selector("#filter_form table.filters tr")
    assert (page.url, violations) == (f"{live_server.url}/admin/tasks/", [])


def test_list_action_asks_then_disables_the_selected_task(
    page: Any, live_server: Any, violations: list[str], task_ids
) -> None:
    browser_login(page, live_server, "operator")
    questions: list[str] = []
    page.on("dialog", lambda dialog: (questions.append(dialog.message), dialog.accept()))
    page.goto(f"{live_server.url}/admin/tasks/")
    page.check(f"input.action-checkbox[value='{task_ids[0]}']")
    page.click("text=With selected")
    page.click("a[data-action=disable]")
    page.wait_for_selector(".alert-success")
    assert (questions, enabled(live_server, task_ids[0]), enabled(live_server, task_ids[1]), violations) == (
        ["Disable the selected tasks? They stop firing within seconds."],
        False,
        True,
        [],
    )


@pytest.mark.parametrize("answer", ["accept", "dismiss"])
def test_delete_asks_first_and_deletes_only_when_confirmed(
    page: Any, live_server: Any, violations: list[str], answer: str
) -> None:
    make_user(live_server.app, "leaver@example.com", "viewer")
    browser_login(page, live_server, "admin")
    questions: list[str] = []
    page.on("dialog", lambda dialog: (questions.append(dialog.message), getattr(dialog, answer)()))
    page.goto(f"{live_server.url}/admin/users/")
    page.locator("tr", has_text="leaver@example.com").locator("button[title='Delete Record']").click()
    page.goto(f"{live_server.url}/admin/users/")
    assert (questions, user_exists(live_server, "leaver@example.com"), violations) == (
        ["Are you sure you want to delete this record?"],
        answer == "dismiss",
        [],
    )
