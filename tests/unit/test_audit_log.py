"""The audit log page: filters, keyset pages, search, who sees what, bad input, diffs and exports."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from console.extensions import db
from console.models import AuditEvent
from console.security import policy
from console.services import audit, audit_log
from tests.conftest import Auth, make_user

SECRET = "hunter2-planted-secret"
T0 = datetime(2026, 6, 1, 12, 0)


def add(app: Flask, action: str = "trigger", *, minutes: int = 0, **values: Any) -> int:
    """One audit event at ``T0 + minutes``; returns its id."""
    with app.app_context():
        values.setdefault("actor", "system:scheduler")
        row = audit.record_event(action, **values)
        row.at = T0 + timedelta(minutes=minutes)
        db.session.commit()
        return row.id


def forget_unseeded(app: Flask) -> None:
    """Delete the events these tests did not seed (signing in, creating the test users): the
    page's filters are checked against the seeded trail alone. (Deleting is what retention does;
    the append-only trigger refuses only updates.)"""
    with app.app_context():
        db.session.execute(sa.delete(AuditEvent).where(AuditEvent.at >= T0 + timedelta(days=30)))
        db.session.commit()


def sign_in(login_as: Auth, role: str) -> None:
    login_as(role)
    forget_unseeded(login_as.app)


def ids_on(page: str) -> list[int]:
    import re

    return [int(m) for m in re.findall(r'data-event-id="(\d+)"', page)]


@pytest.fixture
def events(app: Flask) -> dict[str, int]:
    """A small trail: different actors, actions, servers, outcomes and times."""
    make_user(app, "operator@example.com", "operator")  # so that events name the operator's user_id
    forget_unseeded(app)
    return {
        "trigger": add(
            app,
            "trigger",
            minutes=0,
            category="airflow",
            server_name="prod",
            dag_id="etl_daily",
            object_type="dag",
            object_id="etl_daily",
        ),
        "pause": add(
            app,
            "pause",
            minutes=10,
            actor="operator@example.com",
            category="airflow",
            server_name="staging",
            dag_id="reports",
            object_type="dag",
            object_id="reports",
        ),
        "signin": add(
            app,
            "sign_in_failed",
            minutes=20,
            actor="mallory@example.com",
            category="auth",
            outcome="failed",
            error="bad password",
        ),
        "refused": add(
            app,
            "clear",
            minutes=30,
            actor="operator@example.com",
            category="airflow",
            server_name="prod",
            dag_id="etl_daily",
            outcome="refused",
            error="not allowed",
        ),
        "task": add(
            app,
            "update",
            minutes=40,
            actor="operator@example.com",
            object_type="task",
            object_id="7",
            before={"cron": "0 * * * *"},
            after={"cron": "5 * * * *"},
        ),
    }


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({"actor": "operator@example.com"}, {"pause", "refused", "task"}),
        ({"action": "pause"}, {"pause"}),
        ({"category": "auth"}, {"signin"}),
        ({"object_type": "task", "object_id": "7"}, {"task"}),
        ({"server": "prod"}, {"trigger", "refused"}),
        ({"outcome": "refused"}, {"refused"}),
        ({"since": "2026-06-01T12:10", "until": "2026-06-01T12:30"}, {"pause", "signin"}),
        ({"q": "etl"}, {"trigger", "refused"}),
        ({"q": "bad passw"}, {"signin"}),
        ({"q": "mallory@example"}, {"signin"}),
        ({"q": "etl_daily", "outcome": "success"}, {"trigger"}),
    ],
)
def test_each_filter_narrows_the_timeline(login_as: Auth, events: dict[str, int], args: dict, expected: set) -> None:
    sign_in(login_as, "operator")
    page = login_as.client.get("/admin/audit/", query_string=args)
    assert page.status_code == 200
    assert set(ids_on(page.get_data(as_text=True))) == {events[name] for name in expected}


def test_search_without_the_fts_index_falls_back_to_like(
    app: Flask, events: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL has no FTS5 table: the same search runs as ILIKE over the same columns."""
    monkeypatch.setattr(audit_log, "fts_available", lambda: False)
    with app.app_context():
        found = audit_log.page(audit_log.parse_query({"q": "etl_daily"})).rows
        assert {e.id for e in found} == {events["trigger"], events["refused"]}
        assert audit_log.page(audit_log.parse_query({"q": "100%"})).rows == []


def test_search_text_is_never_fts_syntax(login_as: Auth, events: dict[str, int]) -> None:
    sign_in(login_as, "operator")
    for q in ['"', 'etl" OR "x', "NEAR(a b)", "a* -b", "x:y", "(("]:
        page = login_as.client.get("/admin/audit/", query_string={"q": q})
        assert page.status_code in (200, 400), q


def test_keyset_pages_are_stable_newest_first(app: Flask, login_as: Auth) -> None:
    sign_in(login_as, "admin")
    made = [add(app, "trigger", minutes=i, object_type="dag", object_id=f"d{i}") for i in range(120)]
    client = login_as.client
    first = client.get("/admin/audit/").get_data(as_text=True)
    assert ids_on(first) == sorted(made, reverse=True)[:50]
    assert "Newer" not in first and "of many" in first
    older = client.get(f"/admin/audit/?before={ids_on(first)[-1]}").get_data(as_text=True)
    assert ids_on(older) == sorted(made, reverse=True)[50:100]
    add(app, "trigger", minutes=500)  # a new event does not shift older pages
    last = client.get(f"/admin/audit/?before={ids_on(older)[-1]}").get_data(as_text=True)
    assert ids_on(last) == sorted(made, reverse=True)[100:]
    assert 'data-testid="audit-older"' not in last
    back = client.get(f"/admin/audit/?after={ids_on(last)[0]}").get_data(as_text=True)
    assert ids_on(back) == ids_on(older)
    assert 'data-testid="audit-newer"' in back and 'data-testid="audit-older"' in back


def test_a_viewer_sees_only_their_own_actions(app: Flask, login_as: Auth, events: dict[str, int]) -> None:
    client = Auth(app, app.test_client())("viewer")
    with app.app_context():  # the viewer's one action: signing in (recorded by the sign-in itself)
        own = db.session.scalars(
            sa.select(AuditEvent.id).where(AuditEvent.actor == "viewer@example.com", AuditEvent.action == "sign_in")
        ).one()
    page = client.get("/admin/audit/").get_data(as_text=True)
    assert ids_on(page) == [own] and "your own actions" in page
    assert client.get("/admin/audit/?actor=operator@example.com").get_data(as_text=True).count("data-event-id") == 0
    assert client.get(f"/admin/audit/{events['pause']}/").status_code == 404
    assert client.get(f"/admin/audit/{own}/").status_code == 200
    exported = json.loads(client.get("/admin/audit/export?format=json").get_data(as_text=True))
    assert [row["id"] for row in exported] == [own]
    rows = list(csv.DictReader(io.StringIO(client.get("/admin/audit/export?format=csv").get_data(as_text=True))))
    assert [int(r["id"]) for r in rows] == [own]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"since": "yesterday"}, "is not a date"),
        ({"until": "2026-13-40"}, "is not a date"),
        ({"since": "2026-06-02", "until": "2026-06-01"}, "earlier than"),
        ({"before": "abc"}, "event number"),
        ({"after": "-5"}, "event number"),
        ({"before": "99999999999999999999999"}, "event number"),
        ({"before": "5", "after": "3"}, "not both"),
        ({"outcome": "maybe"}, "Unknown outcome"),
        ({"category": "x"}, "Unknown category"),
        ({"q": "%%%"}, "letter or digit"),
        ({"actor": "a" * 300}, "longer than"),
    ],
)
def test_bad_parameters_are_a_400_with_a_message(login_as: Auth, args: dict, message: str) -> None:
    sign_in(login_as, "operator")
    response = login_as.client.get("/admin/audit/", query_string=args)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    if "before" not in args and "after" not in args:
        export = login_as.client.get("/admin/audit/export", query_string={**args, "format": "csv"})
        assert export.status_code == 400


def test_unknown_export_format_and_event_are_clear(login_as: Auth) -> None:
    sign_in(login_as, "operator")
    assert "use csv or json" in login_as.client.get("/admin/audit/export?format=xml").get_data(as_text=True)
    missing = login_as.client.get("/admin/audit/999999/")
    assert missing.status_code == 404 and "no audit event 999999" in missing.get_data(as_text=True)


def test_entry_shows_a_field_by_field_diff_with_secrets_masked(app: Flask, login_as: Auth) -> None:
    sign_in(login_as, "admin")
    event_id = add(
        app,
        "update",
        actor="admin@example.com",
        object_type="airflow_server",
        object_id="3",
        server_name="prod",
        before={"base_url": "http://old:8080", "password": "old-" + SECRET, "enabled": True},
        after={"base_url": "http://new:8080", "password": SECRET, "enabled": True},
        secret_keys={"password"},
    )
    page = login_as.client.get(f"/admin/audit/{event_id}/").get_data(as_text=True)
    assert 'data-field="base_url" class="audit-changed"' in page
    assert "http://old:8080" in page and "http://new:8080" in page
    assert 'data-field="enabled" class="audit-same"' in page
    assert audit.MASK in page
    assert SECRET not in page
    assert 'data-testid="object-link"' in page  # admins may open the server


def test_a_planted_secret_is_in_no_page_and_no_export(app: Flask, login_as: Auth) -> None:
    sign_in(login_as, "admin")
    event_id = add(
        app,
        "variable_update",
        actor="admin@example.com",
        category="airflow",
        object_type="variable",
        object_id="api_key",
        server_name="prod",
        before={"value": "was-" + SECRET},
        after={"value": SECRET},
        secret_keys={"value"},
    )
    with app.app_context():
        stored = db.session.get(AuditEvent, event_id)
        assert SECRET not in (stored.before or "") + (stored.after or "")
    client = login_as.client
    for url in (
        "/admin/audit/",
        f"/admin/audit/{event_id}/",
        "/admin/audit/?q=api_key",
        "/admin/audit/export?format=csv",
        "/admin/audit/export?format=json",
    ):
        body = client.get(url).get_data(as_text=True)
        assert "api_key" in body, url
        assert SECRET not in body, url
    exported = json.loads(client.get("/admin/audit/export?format=json").get_data(as_text=True))
    assert exported[0]["after"] == {"value": audit.MASK}


def test_exports_are_streamed_and_hold_the_filtered_rows(app: Flask, login_as: Auth, events: dict[str, int]) -> None:
    sign_in(login_as, "admin")
    client = login_as.client
    response = client.get("/admin/audit/export?format=csv&server=prod")
    assert response.is_streamed and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [int(r["id"]) for r in rows] == [events["refused"], events["trigger"]]
    assert rows[0]["outcome"] == "refused" and rows[0]["error"] == "not allowed"
    response = client.get("/admin/audit/export?format=json&object_type=task")
    assert response.is_streamed and response.mimetype == "application/json"
    (row,) = json.loads(response.get_data(as_text=True))
    assert row["before"] == {"cron": "0 * * * *"} and row["after"] == {"cron": "5 * * * *"}
    assert row["at"] == "2026-06-01T12:40:00"


def test_the_export_reads_in_keyset_batches(app: Flask, events: dict[str, int]) -> None:
    """Batches smaller than the trail: every row exactly once, newest first."""
    with app.app_context():
        rows = list(audit_log.export_rows(audit_log.AuditQuery(), batch=2))
    assert [r["id"] for r in rows] == sorted(events.values(), reverse=True)


def test_a_csv_cell_never_starts_a_formula(app: Flask, login_as: Auth) -> None:
    sign_in(login_as, "admin")
    add(app, "trigger", dag_id="=HYPERLINK(1)")
    body = login_as.client.get("/admin/audit/export?format=csv").get_data(as_text=True)
    assert "'=HYPERLINK(1)" in body


def test_audit_rows_have_no_edit_or_delete_route(app: Flask) -> None:
    audit_rules = [r for r in app.url_map.iter_rules() if r.endpoint.startswith("audit.")]
    assert {r.endpoint for r in audit_rules} == {
        "audit.index",
        "audit.entry",
        "audit.export",
        "audit.revert_preview",
        "audit.revert",
    }
    posts = {r.endpoint for r in audit_rules if "POST" in (r.methods or set())}
    assert posts == {"audit.revert"}  # a revert adds events; nothing changes or removes one
    for method in ("PUT", "PATCH", "DELETE"):
        assert not any(method in (r.methods or set()) for r in audit_rules)
    named = [e for e in policy.POLICY if "audit" in e]
    assert all(not any(w in e for w in ("edit", "delete", "update", "purge")) for e in named)


def test_task_server_and_user_screens_link_to_their_history(app: Flask, login_as: Auth) -> None:
    from tests.unit.test_tasks_fire import make_task

    task_id = make_task(app)
    sign_in(login_as, "admin")
    with app.app_context():
        from console.models import AirflowServer, User

        server_id = db.session.scalar(sa.select(AirflowServer.id))
        user_id = db.session.scalar(sa.select(User.id).where(User.email == "admin@example.com"))
    client = login_as.client
    for screen, kind, pk in (
        ("tasks", "task", task_id),
        ("servers", "airflow_server", server_id),
        ("users", "user", user_id),
    ):
        link = f"/admin/audit/?object_type={kind}&amp;object_id={pk}"
        assert link in client.get(f"/admin/{screen}/").get_data(as_text=True), screen
        assert link in client.get(f"/admin/{screen}/edit/?id={pk}").get_data(as_text=True), screen
    assert f"/admin/audit/?object_type=task&amp;object_id={task_id}" in client.get(
        f"/admin/tasks/details/?id={task_id}"
    ).get_data(as_text=True)


@pytest.mark.sqlite_only
def test_a_word_prefix_is_searched_as_the_indexed_words_it_begins(app: Flask, events: dict[str, int]) -> None:
    with app.app_context():
        assert audit_log.fts_expression("OPER") == '("operator")'
        assert audit_log.fts_expression("e") == '("etl" OR "example")'
        assert audit_log.fts_expression("etl_dai") == '"etl dai"*'
        assert audit_log.fts_expression("zzz pause") == '"zzz"* AND ("pause")'
