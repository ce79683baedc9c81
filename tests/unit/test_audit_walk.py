"""Walk every state-changing route and list action of the access matrix: each one done leaves its
attributed audit record(s), and each one refused (403) leaves one ``refused`` event.

Airflow is a stand-in here (``FakeAirflow`` of ``test_airflow_audit``: the DAG actions' calls
succeed) because this test is about the console's records; the sandbox tests cover the calls.
A new POST route or list action fails ``test_every_mutation_is_walked`` until it gets a step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from console.extensions import db
from console.models import AuditEvent, Job, Role, User
from console.security import policy
from console.services import dags, server_clients, servers, tasks, users
from tests import static_dns
from tests.conftest import PASSWORD, Auth, csrf_token, make_user
from tests.unit.test_access_matrix import build_url
from tests.unit.test_airflow_audit import FakeAirflow
from tests.unit.test_servers_admin import create_form
from tests.unit.test_tasks_screens import form_data

ADMIN = "admin@example.com"
MUTATING = {"POST", "PUT", "PATCH", "DELETE"}


class WalkAirflow(FakeAirflow):
    def set_task_instance_state(self, *_args: Any, **_kwargs: Any) -> list[Any]:
        self._call("set_task_instance_state")
        return []

    def get_dag_run(self, dag_id: str, run_id: str) -> Any:
        return SimpleNamespace(dag_id=dag_id, run_id=run_id, note="before")

    def set_dag_run_note(self, dag_id: str, run_id: str, note: str) -> Any:
        self._call("set_dag_run_note")
        return SimpleNamespace(dag_id=dag_id, run_id=run_id, note=note)


@pytest.fixture(autouse=True)
def stand_ins(monkeypatch: pytest.MonkeyPatch) -> None:
    static_dns.install(monkeypatch)
    monkeypatch.setattr(server_clients, "client_or_failure", lambda server: WalkAirflow())
    monkeypatch.setattr(
        dags,
        "load_dag_details",
        lambda sid, dag_id: (SimpleNamespace(name="walk"), SimpleNamespace(params={}), None),
    )


@dataclass
class World:
    server: int
    spare_servers: list[int]
    task: int
    spare_tasks: list[int]
    user: int
    roles: dict[str, int]
    job: int


def seed(app: Flask) -> World:
    with app.app_context():
        make = servers.register_server
        server = make(name="walk", base_url="http://127.0.0.1:9", username="u", secret="p")
        spare = [make(name=f"spare{i}", base_url="http://127.0.0.1:9", username="u", secret="p") for i in range(3)]
        db.session.flush()
        sid = server.id
        values = {"server_id": sid, "dag_id": "example_quick", "cron": "0 5 * * *"}
        made = [tasks.create_task({**values, "name": f"t{i}"}, check_dag=False) for i in range(5)]
        user, _ = users.create_user("walked@example.com", "viewer", PASSWORD)
        job = Job(uid="walk-job", kind="dag_action", params={"action": "pause"}, actor=ADMIN, total=0)
        db.session.add(job)
        db.session.commit()
        roles = {r.name: r.id for r in db.session.scalars(sa.select(Role))}
        return World(sid, [s.id for s in spare], made[0].id, [t.id for t in made[1:]], user.id, roles, job.id)


def user_form(w: World, **extra: Any) -> dict[str, Any]:
    return {"email": "walked@example.com", "roles": [str(w.roles["viewer"])], "active": "y", **extra}


DAG = "/admin/dags/{w.server}/example_quick"
#: endpoint (or "<view>:<action>") -> (request for it, the audit actions it leaves, in order)
Step = tuple[Callable[[World], tuple[str, dict[str, Any]]], list[str]]
STEPS: dict[str, Step] = {
    "users.create_view": (
        lambda w: ("/admin/users/new/", user_form(w, email="new@example.com", new_password="a long new passphrase")),
        ["user.create"],
    ),
    "users.edit_view": (
        lambda w: (f"/admin/users/edit/?id={w.user}", user_form(w, roles=[str(w.roles["operator"])])),
        ["user.update"],
    ),
    "users:deactivate": (
        lambda w: ("/admin/users/action/", {"action": "deactivate", "rowid": w.user}),
        ["user.update"],
    ),
    "users:activate": (lambda w: ("/admin/users/action/", {"action": "activate", "rowid": w.user}), ["user.update"]),
    "users.delete_view": (lambda w: ("/admin/users/delete/", {"id": w.user}), ["user.delete"]),
    "users:delete": (
        lambda w: ("/admin/users/action/", {"action": "delete", "rowid": _user_id("new@example.com")}),
        ["user.delete"],
    ),
    "servers.create_view": (lambda w: ("/admin/servers/new/", create_form()), ["airflow_server.create"]),
    "servers.edit_view": (
        lambda w: (f"/admin/servers/edit/?id={w.spare_servers[0]}", create_form(name="spare0", username="other")),
        ["airflow_server.update"],
    ),
    "servers:test_connection": (
        lambda w: ("/admin/servers/action/", {"action": "test_connection", "rowid": w.spare_servers[0]}),
        ["airflow_server.test_connection"],
    ),
    "servers.delete_view": (
        lambda w: ("/admin/servers/delete/", {"id": w.spare_servers[1]}),
        ["airflow_server.delete"],
    ),
    "servers:delete": (
        lambda w: ("/admin/servers/action/", {"action": "delete", "rowid": w.spare_servers[2]}),
        ["airflow_server.delete"],
    ),
    "tasks.create_view": (lambda w: ("/admin/tasks/new/", form_data(w.server, name="walked task")), ["task.create"]),
    "tasks.edit_view": (
        lambda w: (f"/admin/tasks/edit/?id={w.task}", form_data(w.server, name="t0", cron="0 6 * * *")),
        ["task.update"],
    ),
    "tasks:disable": (lambda w: ("/admin/tasks/action/", {"action": "disable", "rowid": w.task}), ["task.update"]),
    "tasks:enable": (lambda w: ("/admin/tasks/action/", {"action": "enable", "rowid": w.task}), ["task.update"]),
    "tasks.delete_view": (lambda w: ("/admin/tasks/delete/", {"id": w.spare_tasks[0]}), ["task.delete"]),
    "tasks:delete": (
        lambda w: ("/admin/tasks/action/", {"action": "delete", "rowid": w.spare_tasks[1]}),
        ["task.delete"],
    ),
    "tasks.run_now": (lambda w: (f"/admin/tasks/run_now/{w.task}", {}), ["trigger"]),
    "dags.set_paused": (lambda w: (DAG.format(w=w) + "/paused", {"paused": "1"}), ["pause"]),
    "dags.trigger": (lambda w: (DAG.format(w=w) + "/trigger", {}), ["trigger"]),
    "dags.clear": (lambda w: (DAG.format(w=w) + "/runs/r1/clear", {"task_id": "boom"}), ["clear"]),
    "dags.mark": (lambda w: (DAG.format(w=w) + "/runs/r1/mark", {"state": "failed"}), ["mark failed"]),
    "dags.mark_task": (
        lambda w: (DAG.format(w=w) + "/runs/r1/tasks/boom/mark", {"state": "success"}),
        ["mark success"],
    ),
    "dags.clear_task": (
        lambda w: (DAG.format(w=w) + "/runs/r1/tasks/boom/clear", {"confirm": "1"}),
        ["clear"],
    ),
    "dags.run_note": (lambda w: (DAG.format(w=w) + "/runs/r1/note", {"note": "checked"}), ["note"]),
    "task_instances.clear": (
        lambda w: ("/admin/task-instances/clear", {"ti": f'[{w.server}, "example_quick", "r1", "boom", -1]'}),
        ["clear"],
    ),
    "dags.bulk": (
        lambda w: ("/admin/dags/bulk", {"action": "pause", "dag": f"{w.server}:example_quick"}),
        ["bulk pause started", "pause", "bulk pause finished"],
    ),
    # A queued job ends at once (its own "finished" record) and the cancel is recorded.
    "jobs.cancel": (lambda w: (f"/admin/jobs/{w.job}/cancel", {}), ["bulk pause finished", "job.cancel"]),
    "security.verify": (lambda w: ("/verify", {"password": PASSWORD}), ["verify"]),
    "security.change_password": (
        lambda w: (
            "/change",
            {"password": PASSWORD, "new_password": PASSWORD + "!", "new_password_confirm": PASSWORD + "!"},
        ),
        ["password_change"],
    ),
    "security.logout": (lambda w: ("/logout", {}), ["sign_out"]),
    "security.login": (lambda w: ("/login", {"email": ADMIN, "password": PASSWORD + "!"}), ["sign_in"]),
    # The first stored value of a setting creates its row; sending a test alert is recorded
    # whatever came of it (here no channel is configured: outcome failed).
    "settings.index": (lambda w: ("/admin/settings/", {"dashboard_refresh_seconds": "45"}), ["setting.create"]),
    "settings.test_alert": (lambda w: ("/admin/settings/test-alert", {}), ["alert.test"]),
    # Reverting the last change of the walked task (enable) is itself a change of the task.
    "audit.revert": (lambda w: (f"/admin/audit/{_last_event('task.update')}/revert", {}), ["task.update"]),
}
#: POST routes that change nothing, with why (no record expected).
NO_CHANGE = {
    "users.ajax_update": "no list column is editable inline: answers an error",
    "servers.ajax_update": "no list column is editable inline: answers an error",
    "tasks.ajax_update": "no list column is editable inline: answers an error",
}


def _last_event(action: str) -> int:
    return int(db.session.scalar(sa.select(sa.func.max(AuditEvent.id)).where(AuditEvent.action == action)) or 0)


def _user_id(email: str) -> int:
    return int(db.session.scalar(sa.select(User.id).where(User.email == email)) or 0)


def mutating_endpoints(app: Flask) -> set[str]:
    return {rule.endpoint for rule in app.url_map.iter_rules() if rule.methods and rule.methods & MUTATING}


#: Changes in Airflow whose success needs a real Airflow: their one event each is asserted by
#: their own sandbox tests; their refusal is walked here like every other route.
IN_AIRFLOW = {
    f"{screen}.{name}": "tests/integration/test_airflow_objects.py"
    for screen in ("variables", "pools", "connections")
    for name in ("create", "edit", "delete", "import_variables")
} | {
    # A backfill's create and its pause/unpause/cancel: their events are asserted against the
    # sandbox; the dry run changes nothing and records nothing.
    "dags.backfill_create": "tests/integration/test_backfills.py",
    "dags.backfill_change": "tests/integration/test_backfills.py",
    "dags.backfill_new": "tests/integration/test_backfills.py (a dry run)",
}


def test_every_mutation_is_walked(app: Flask) -> None:
    mutating = mutating_endpoints(app) - {"tasks.action_view", "users.action_view", "servers.action_view"}
    walked = {key for key in STEPS if ":" not in key and key in mutating} | set(NO_CHANGE)
    assert mutating - set(IN_AIRFLOW) == walked
    assert {key for key in STEPS if ":" in key} == set(policy.ACTIONS)


def new_events(app: Flask, after: int) -> list[AuditEvent]:
    with app.app_context():
        rows = list(db.session.scalars(sa.select(AuditEvent).where(AuditEvent.id > after).order_by(AuditEvent.id)))
        for row in rows:
            db.session.expunge(row)
        return rows


def last_id(app: Flask) -> int:
    with app.app_context():
        return int(db.session.scalar(sa.select(sa.func.max(AuditEvent.id))) or 0)


def test_each_mutation_done_leaves_its_attributed_records(app: Flask, login_as: Auth) -> None:
    world = seed(app)
    login_as("admin")
    problems = []
    for key, (build, expected) in STEPS.items():
        if ":" not in key and key not in policy.POLICY:
            continue  # a route of a screen this checkout does not have
        with app.app_context():
            url, data = build(world)
        token = csrf_token(login_as.client, "/login" if key == "security.login" else "/admin/")
        start = last_id(app)
        response = login_as.client.post(url, data={**data, "csrf_token": token})
        got = new_events(app, start)
        actions = [e.action for e in got]
        attributed = all(e.actor == ADMIN and e.user_id is not None for e in got)
        if response.status_code >= 400 or actions != expected or not attributed:
            problems.append(f"{key}: {response.status_code} {[(e.action, e.actor, e.user_id) for e in got]}")
    for endpoint in NO_CHANGE:
        start = last_id(app)
        url = f"/admin/{endpoint.split('.')[0]}/ajax/update/"
        data = {"list_form_pk": world.task, "name": "inline", "csrf_token": csrf_token(login_as.client, "/admin/")}
        response = login_as.client.post(url, data=data)
        if response.status_code < 400 or new_events(app, start):
            problems.append(f"{endpoint}: {response.status_code}, {len(new_events(app, start))} records")
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("role", [policy.VIEWER, policy.OPERATOR])
def test_each_mutation_refused_leaves_one_refused_event(app: Flask, login_as: Auth, role: str) -> None:
    world = seed(app)
    login_as(role)
    rank = policy.RANK[role]
    problems = []
    refusals = 0
    requests = {key: build for key, (build, _expected) in STEPS.items() if ":" in key or key in policy.POLICY}
    for rule in app.url_map.iter_rules():  # every other state-changing route, with sample arguments
        if rule.endpoint not in requests and rule.methods and rule.methods & MUTATING:
            requests[rule.endpoint] = lambda w, rule=rule: (build_url(app, rule), {})
    for key, build in requests.items():
        needed = policy.ACTIONS[key] if ":" in key else policy.POLICY[key]
        if policy.RANK[needed] <= rank:
            continue
        refusals += 1
        with app.app_context():
            url, data = build(world)
        start = last_id(app)
        response = login_as.client.post(url, data={**data, "csrf_token": csrf_token(login_as.client, "/admin/")})
        got = [(e.actor, e.outcome, e.category) for e in new_events(app, start)]
        if response.status_code != 403 or got != [(f"{role}@example.com", "refused", "auth")]:
            problems.append(f"{key}: {response.status_code} {got}")
    assert refusals >= 10 and problems == [], "\n".join(problems)


def test_cli_user_changes_carry_the_cli_actor(app: Flask, runner: Any) -> None:
    make_user(app, ADMIN, "admin")
    for args in (
        ["users", "create", "cli@example.com", "--role", "viewer", "--password", PASSWORD],
        ["users", "add-role", "cli@example.com", "operator"],
        ["users", "set-password", "cli@example.com", "--password", PASSWORD + "?"],
        ["users", "deactivate", "cli@example.com"],
    ):
        start = last_id(app)
        result = runner.invoke(args=args)
        assert result.exit_code == 0, result.output
        got = [(e.actor, e.action, e.user_id) for e in new_events(app, start)]
        assert got == [("system:cli", "user.create" if args[1] == "create" else "user.update", None)], args
