"""Variables, pools, connections and the configuration page against the real Airflow sandbox:
create, edit, delete, revert, changed-outside detection, secrets never in clear, import/export,
roles, and a server that is down."""

from __future__ import annotations

import contextlib
import io
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from console.airflow.client import AirflowClient
from console.airflow.errors import AirflowNotFound
from console.extensions import db
from console.models import AuditEvent
from console.services import airflow_objects, audit
from tests.conftest import Auth, sandbox_api

pytestmark = pytest.mark.integration

ADMIN = "admin@example.com"


@pytest.fixture(scope="module")
def api(airflow_sandbox: Any) -> AirflowClient:
    return sandbox_api(airflow_sandbox, "sandbox-api")


@pytest.fixture
def names(api: AirflowClient) -> Iterator[Any]:
    """Unique names for the test's objects; whatever is left of them is deleted afterwards."""
    made: list[tuple[str, str]] = []

    def name(kind: str, stem: str = "t") -> str:
        made.append((kind, f"console_{stem}_{uuid.uuid4().hex[:8]}"))
        return made[-1][1]

    yield name
    for kind, object_id in made:
        with contextlib.suppress(AirflowNotFound):
            getattr(api, f"delete_{kind}")(object_id)


@pytest.fixture
def admin(login_as: Auth) -> Auth:
    login_as("admin")
    return login_as


def events(app: Flask, object_type: str, object_id: str) -> list[AuditEvent]:
    with app.app_context():
        rows = db.session.scalars(
            sa.select(AuditEvent)
            .where(AuditEvent.object_type == object_type, AuditEvent.object_id == object_id)
            .order_by(AuditEvent.id)
        ).all()
        db.session.expunge_all()
        return list(rows)


def revert(app: Flask, event_id: int, force: bool = False) -> AuditEvent:
    with app.app_context():
        event = db.session.get(AuditEvent, event_id)
        done = airflow_objects.revert_change(event, actor=ADMIN, force=force)
        db.session.refresh(done)
        db.session.expunge(done)
        return done


def text(response: Any) -> str:
    return response.get_data(as_text=True)


# --- variables ------------------------------------------------------------------------------


def test_variable_create_edit_and_revert_restores_the_old_value(app, admin, sandbox_server, api, names) -> None:
    key = names("variable")
    base = f"/admin/variables/{sandbox_server}"
    assert admin.post(f"{base}/new", {"key": key, "value": "first", "description": "d"}).status_code == 302
    assert api.get_variable(key)["value"] == "first"
    assert admin.post(f"{base}/edit?id={key}", {"key": key, "value": "second", "description": "d"}).status_code == 302
    assert api.get_variable(key)["value"] == "second"

    created, updated = events(app, "variable", key)
    assert (created.action, created.outcome, created.actor, created.server_name) == (
        "variable.create",
        "success",
        ADMIN,
        "sandbox",
    )
    assert (updated.action, audit.masked(updated.before)["value"], audit.masked(updated.after)["value"]) == (
        "variable.update",
        "first",
        "second",
    )
    html = text(admin.client.get(f"{base}/?q={key}"))
    assert f'data-object-id="{key}"' in html and "changed outside the console" not in html
    assert f"/admin/audit/?server=sandbox&amp;object_type=variable&amp;object_id={key}" in html

    reverted = revert(app, updated.id)
    assert api.get_variable(key)["value"] == "first"
    assert (reverted.action, reverted.reverts_id, reverted.outcome) == ("variable.update", updated.id, "success")
    assert len(events(app, "variable", key)) == 3


def test_variable_delete_and_revert_recreates_it(app, admin, sandbox_server, api, names) -> None:
    key = names("variable")
    base = f"/admin/variables/{sandbox_server}"
    created = admin.post(f"{base}/new", {"key": key, "value": "keep me", "description": "about it"})
    assert created.status_code == 302, text(created)
    assert admin.post(f"{base}/delete", {"id": key}).status_code == 302
    with pytest.raises(AirflowNotFound):
        api.get_variable(key)
    deleted = events(app, "variable", key)[-1]
    assert deleted.action == "variable.delete" and deleted.after is None

    revert(app, deleted.id)
    assert api.get_variable(key) == {"key": key, "value": "keep me", "description": "about it"}


def test_change_outside_the_console_is_shown_and_revert_refuses_without_force(
    app, admin, sandbox_server, api, names
) -> None:
    key = names("variable")
    base = f"/admin/variables/{sandbox_server}"
    admin.post(f"{base}/new", {"key": key, "value": "v1"})
    admin.post(f"{base}/edit?id={key}", {"key": key, "value": "v2"})
    api.update_variable(key, {"value": "from airflow"})

    html = text(admin.client.get(f"{base}/?q={key}"))
    assert 'data-testid="changed-outside"' in html
    assert 'data-testid="changed-outside"' in text(admin.client.get(f"{base}/edit?id={key}"))
    update = events(app, "variable", key)[-1]
    with app.app_context():
        preview = airflow_objects.preview_revert(db.session.get(AuditEvent, update.id))
    assert preview.changed_outside and preview.operation == "update"
    assert ("value", "from airflow", "v1") in preview.changes

    with pytest.raises(airflow_objects.ChangedOutside):
        revert(app, update.id)
    assert api.get_variable(key)["value"] == "from airflow"
    revert(app, update.id, force=True)
    assert api.get_variable(key)["value"] == "v1"


def test_sensitive_variable_value_is_never_in_clear(app, admin, sandbox_server, api, names) -> None:
    key = names("variable", "api_key")
    planted = "planted-" + uuid.uuid4().hex
    base = f"/admin/variables/{sandbox_server}"
    assert admin.post(f"{base}/new", {"key": key, "value": planted, "description": "d1"}).status_code == 302
    # Blank value on the edit form: only the description changes, the value is kept.
    assert admin.post(f"{base}/edit?id={key}", {"key": key, "value": "", "description": "d2"}).status_code == 302
    assert api.get_variable(key)["description"] == "d2"

    pages = [text(admin.client.get(f"{base}/")), text(admin.client.get(f"{base}/edit?id={key}"))]
    pages.append(text(admin.client.get(f"{base}/export")))
    assert all(planted not in page for page in pages)
    assert audit.MASK in pages[0] and 'data-testid="write-only"' in pages[1]
    assert key not in json.loads(pages[2])

    created, updated = events(app, "variable", key)
    for row in (created, updated):
        assert planted not in (row.before or "") + (row.after or "") + row.detail
    assert audit.masked(updated.after)["value"] == audit.MASK
    with app.app_context():
        assert audit.revealed(updated.before)["value"] == planted == audit.revealed(updated.after)["value"]
    assert "changed outside" not in pages[0]


# --- pools ----------------------------------------------------------------------------------


def test_pool_create_edit_revert_delete_and_revert(app, admin, sandbox_server, api, names) -> None:
    name = names("pool")
    base = f"/admin/pools/{sandbox_server}"
    assert admin.post(f"{base}/new", {"name": name, "slots": "3", "description": "p"}).status_code == 302
    assert admin.post(f"{base}/edit?id={name}", {"name": name, "slots": "7", "description": "p"}).status_code == 302
    assert api.get_pool(name)["slots"] == 7
    bad = admin.post(f"{base}/edit?id={name}", {"name": name, "slots": "-5"})
    assert bad.status_code == 400 and 'value="-5"' in text(bad)

    update = events(app, "pool", name)[-1]
    revert(app, update.id)
    assert api.get_pool(name)["slots"] == 3
    admin.post(f"{base}/delete", {"id": name})
    with pytest.raises(AirflowNotFound):
        api.get_pool(name)
    revert(app, events(app, "pool", name)[-1].id)
    assert api.get_pool(name)["slots"] == 3
    assert [e.action for e in events(app, "pool", name)] == [
        "pool.create",
        "pool.update",
        "pool.update",
        "pool.delete",
        "pool.create",
    ]


# --- connections ----------------------------------------------------------------------------


def test_connection_password_is_never_rendered_and_only_encrypted_in_the_audit(
    app, admin, sandbox_server, api, names
) -> None:
    conn_id = names("connection")
    password, token = "pw-" + uuid.uuid4().hex, "tok-" + uuid.uuid4().hex
    base = f"/admin/connections/{sandbox_server}"
    form = {"connection_id": conn_id, "conn_type": "http", "host": "h1", "password": password}
    form["extra"] = json.dumps({"token": token, "timeout": 5})
    assert admin.post(f"{base}/new", form).status_code == 302
    assert (
        admin.post(f"{base}/edit?id={conn_id}", {**form, "host": "h2", "password": "", "extra": ""}).status_code == 302
    )
    now = api.get_connection(conn_id)
    assert (now["host"], now["password"]) == ("h2", "***")  # the password was kept

    pages = [text(admin.client.get(f"{base}/")), text(admin.client.get(f"{base}/edit?id={conn_id}"))]
    assert all(password not in p and token not in p for p in pages)
    assert "changed outside the console" not in pages[0]
    for row in events(app, "connection", conn_id):
        assert password not in (row.before or "") + (row.after or "")
        assert token not in (row.before or "") + (row.after or "")
    last = events(app, "connection", conn_id)[-1]
    with app.app_context():
        assert audit.revealed(last.after)["password"] == password


# --- import / export ------------------------------------------------------------------------


def test_import_export_round_trip_and_bad_input_changes_nothing(app, admin, sandbox_server, api, names) -> None:
    plain, structured, secret = names("variable"), names("variable"), names("variable", "secret")
    base = f"/admin/variables/{sandbox_server}"
    payload = {plain: "hello", structured: {"rows": 100}, secret: "hidden-" + uuid.uuid4().hex}
    done = admin.post(f"{base}/import", {"text": json.dumps(payload)})
    assert done.status_code == 200
    assert text(done).count('data-outcome="created"') == 3
    assert api.get_variable(structured)["value"] == '{"rows": 100}'

    exported = json.loads(text(admin.client.get(f"{base}/export")))
    assert exported[plain] == "hello" and json.loads(exported[structured]) == {"rows": 100}
    assert secret not in exported
    again = admin.post(f"{base}/import", {"text": json.dumps({plain: exported[plain], structured: "changed"})})
    assert 'data-outcome="unchanged"' in text(again) and 'data-outcome="updated"' in text(again)

    before = len(events(app, "variable", plain))
    broken = '{"' + plain + '": "x", '
    bad = admin.post(f"{base}/import", {"text": broken})
    assert bad.status_code == 400 and "not valid JSON" in text(bad) and plain in text(bad)
    nulls = admin.post(f"{base}/import", {"text": json.dumps({plain: "new", "": "x", structured: None})})
    assert nulls.status_code == 400 and "has no value" in text(nulls) and "1 to 250 characters" in text(nulls)
    assert api.get_variable(plain)["value"] == "hello"
    assert len(events(app, "variable", plain)) == before
    upload = admin.post(f"{base}/import", {"file": (io.BytesIO(json.dumps({plain: "from a file"}).encode()), "v.json")})
    assert upload.status_code == 200 and f'data-key="{plain}" data-outcome="updated"' in text(upload)
    assert api.get_variable(plain)["value"] == "from a file"


def test_a_change_airflow_refuses_is_a_message_and_a_failed_audit_event(app, admin, sandbox_server, api) -> None:
    refused = admin.post(f"/admin/pools/{sandbox_server}/delete", {"id": "default_pool"})
    assert refused.status_code == 302
    page = text(admin.client.get(refused.headers["Location"]))
    assert "default_pool" in page and "alert-danger" in page
    failed = events(app, "pool", "default_pool")[-1]
    assert (failed.action, failed.outcome) == ("pool.delete", "failed") and "default_pool" in (failed.error or "")
    assert api.get_pool("default_pool")["name"] == "default_pool"


# --- configuration ----------------------------------------------------------------------------


def test_config_page_shows_a_known_key_providers_and_search(admin, sandbox_server) -> None:
    html = text(admin.client.get(f"/admin/airflow-config/{sandbox_server}/?q=expose_config"))
    assert 'data-key="api.expose_config"' in html and "non-sensitive-only" in html
    assert 'data-key="core.dags_folder"' not in html
    assert html.count('data-testid="provider-row"') >= 1
    full = text(admin.client.get(f"/admin/airflow-config/{sandbox_server}/"))
    assert 'data-key="core.dags_folder"' in full and "&lt; hidden &gt;" in full


# --- roles and failures -------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["viewer", "operator"])
def test_viewers_and_operators_read_but_forged_posts_are_refused(app, role, sandbox_server, api, names) -> None:
    key = names("variable")
    api.create_variable(key, "v")
    auth = Auth(app, app.test_client())
    auth(role)
    base = f"/admin/variables/{sandbox_server}"
    page = auth.client.get(f"{base}/?q={key}")
    assert page.status_code == 200 and f'data-object-id="{key}"' in text(page)
    assert 'data-testid="edit"' not in text(page) and 'data-testid="delete"' not in text(page)
    assert auth.client.get(f"/admin/airflow-config/{sandbox_server}/").status_code == 200
    forged = [
        (f"{base}/new", {"key": key + "x", "value": "v"}),
        (f"{base}/edit?id={key}", {"key": key, "value": "changed"}),
        (f"{base}/delete", {"id": key}),
        (f"{base}/import", {"text": json.dumps({key: "changed"})}),
        (f"/admin/pools/{sandbox_server}/new", {"name": key, "slots": "1"}),
        (f"/admin/connections/{sandbox_server}/delete", {"id": "anything"}),
    ]
    for path, data in forged:
        assert auth.post(path, data).status_code == 403, path
    assert api.get_variable(key)["value"] == "v"
    assert events(app, "variable", key) == []


def test_airflow_down_is_a_clear_message_and_a_failed_audit_event(app, admin) -> None:
    from console.services import servers

    with app.app_context():
        down = servers.register_server(name="down", base_url="http://127.0.0.1:9", username="admin", secret="x")
        db.session.commit()
        server_id = down.id
    page = admin.client.get(f"/admin/variables/{server_id}/")
    assert page.status_code == 200 and 'data-testid="server-banner"' in text(page)
    assert "connection refused" in text(page)
    created = admin.post(f"/admin/variables/{server_id}/new", {"key": "k1", "value": "v"})
    assert created.status_code == 502 and "connection refused" in text(created) and 'value="k1"' in text(created)
    (failed,) = events(app, "variable", "k1")
    assert failed.outcome == "failed" and "connection refused" in (failed.error or "")
    assert admin.client.get(f"/admin/airflow-config/{server_id}/").status_code == 200
    assert admin.client.get("/admin/variables/999999/").status_code == 404


def clear_values(variable: str, conn_id: str) -> list[str]:
    """The sensitive variable's value and the connection's password as Airflow stores them, read
    from its database by the sandbox's own Python (its API only ever answers ``***``)."""
    import subprocess

    from console.airflow.sandbox.settings import airflow_env, clean_env
    from tests.conftest import sandbox_settings

    settings = sandbox_settings()
    code = (
        "import json, sys\nimport airflow\nfrom airflow.utils.session import create_session\n"
        "from airflow.models import Connection, Variable\nwith create_session() as s:\n"
        "    v = s.query(Variable).filter_by(key=sys.argv[1]).one().val\n"
        "    c = s.query(Connection).filter_by(conn_id=sys.argv[2]).one().password\n"
        "print(json.dumps([v, c]))\n"
    )
    done = subprocess.run(
        [str(settings.python_bin), "-c", code, variable, conn_id],
        env={**clean_env(settings), **airflow_env(settings)},
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return list(json.loads(done.stdout.strip().splitlines()[-1]))


def test_revert_restores_a_sensitive_value_and_a_connection_password(app, admin, sandbox_server, names) -> None:
    key, conn_id = names("variable", "token"), names("connection")
    old_value, new_value = "old-" + uuid.uuid4().hex, "new-" + uuid.uuid4().hex
    old_pw, new_pw = "oldpw-" + uuid.uuid4().hex, "newpw-" + uuid.uuid4().hex
    variables, connections = f"/admin/variables/{sandbox_server}", f"/admin/connections/{sandbox_server}"
    admin.post(f"{variables}/new", {"key": key, "value": old_value})
    admin.post(f"{variables}/edit?id={key}", {"key": key, "value": new_value})
    conn = {"connection_id": conn_id, "conn_type": "http", "host": "h", "password": old_pw}
    admin.post(f"{connections}/new", conn)
    admin.post(f"{connections}/edit?id={conn_id}", {**conn, "password": new_pw})
    var_update, conn_update = events(app, "variable", key)[-1], events(app, "connection", conn_id)[-1]
    with app.app_context():
        preview = airflow_objects.preview_revert(db.session.get(AuditEvent, var_update.id))
    assert not preview.changed_outside and ("value", audit.MASK, audit.MASK) in preview.changes
    assert old_value not in repr(preview) and new_value not in repr(preview)

    revert(app, var_update.id)
    revert(app, conn_update.id)
    assert clear_values(key, conn_id) == [old_value, old_pw]


def test_a_secret_the_console_never_saw_is_named_as_not_restorable(app, admin, sandbox_server, api, names) -> None:
    key = names("variable", "password")
    api.create_variable(key, "set-in-airflow-" + uuid.uuid4().hex, "first")
    base = f"/admin/variables/{sandbox_server}"
    assert admin.post(f"{base}/edit?id={key}", {"key": key, "value": "", "description": "second"}).status_code == 302
    update = events(app, "variable", key)[-1]
    assert audit.masked(update.before) == {"description": "first"}
    with app.app_context():
        preview = airflow_objects.preview_revert(db.session.get(AuditEvent, update.id))
    assert preview.unknown == ["value"] and preview.changes == [("description", "second", "first")]
    revert(app, update.id)
    assert api.get_variable(key)["description"] == "first"
