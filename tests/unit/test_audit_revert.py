"""Reverting a change from the audit log: admins only, confirmed by POST with CSRF, itself audited."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy_continuum import version_class

from console.extensions import db
from console.models import AuditEvent, Task
from console.services import audit
from tests import static_dns
from tests.conftest import Auth
from tests.unit.test_audit_log import add
from tests.unit.test_tasks_fire import make_task


@pytest.fixture(autouse=True)
def no_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    static_dns.install(monkeypatch)


def change_cron(app: Flask, task_id: int, cron: str) -> int:
    """Change a task's cron and record the event the row-change hook records for it."""
    with app.app_context():
        task = db.session.get(Task, task_id)
        old = task.cron
        task.cron = cron
        db.session.commit()
        event = audit.record_event(
            "update",
            actor="operator@example.com",
            object_type="task",
            object_id=str(task_id),
            before={"cron": old},
            after={"cron": cron},
        )
        db.session.commit()
        return event.id


def task_cron(app: Flask, task_id: int) -> str | None:
    with app.app_context():
        task = db.session.get(Task, task_id)
        return task.cron if task else None


def reverts_of(app: Flask, event_id: int) -> list[AuditEvent]:
    with app.app_context():
        rows = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.reverts_id == event_id))
        return [(r.id, r.actor, r.before, r.after) for r in rows]  # type: ignore[misc]


def test_reverting_a_task_change_round_trips(app: Flask, login_as: Auth) -> None:
    task_id = make_task(app, cron="0 * * * *")
    event_id = change_cron(app, task_id, "5 * * * *")
    login_as("admin")
    preview = login_as.client.get(f"/admin/audit/{event_id}/revert")
    page = preview.get_data(as_text=True)
    assert preview.status_code == 200 and 'data-field="cron"' in page
    assert "5 * * * *" in page and "0 * * * *" in page
    assert task_cron(app, task_id) == "5 * * * *"  # the confirmation page changes nothing

    done = login_as.post(f"/admin/audit/{event_id}/revert")
    assert done.status_code == 302
    assert task_cron(app, task_id) == "0 * * * *"
    ((revert_id, actor, before, after),) = reverts_of(app, event_id)
    assert actor == "admin@example.com"
    assert audit.masked(after) == {"cron": "0 * * * *"} and audit.masked(before) == {"cron": "5 * * * *"}
    entry = login_as.client.get(f"/admin/audit/{event_id}/").get_data(as_text=True)
    assert f"#{revert_id}" in entry and 'data-testid="reverted-by"' in entry

    # The revert is itself revertible.
    assert login_as.post(f"/admin/audit/{revert_id}/revert").status_code == 302
    assert task_cron(app, task_id) == "5 * * * *"
    assert len(reverts_of(app, revert_id)) == 1


def test_revert_needs_an_admin_a_post_and_a_csrf_token(app: Flask, login_as: Auth) -> None:
    task_id = make_task(app, cron="0 * * * *")
    event_id = change_cron(app, task_id, "5 * * * *")
    login_as("operator")
    assert login_as.client.get(f"/admin/audit/{event_id}/revert").status_code == 403
    assert login_as.post(f"/admin/audit/{event_id}/revert").status_code == 403
    page = login_as.client.get(f"/admin/audit/{event_id}/").get_data(as_text=True)
    assert 'data-testid="audit-revert"' not in page  # no button for an operator
    assert task_cron(app, task_id) == "5 * * * *"

    admin = Auth(app, app.test_client())
    admin("admin")
    refused = admin.client.post(f"/admin/audit/{event_id}/revert", data={})
    assert refused.status_code == 400  # no CSRF token
    assert task_cron(app, task_id) == "5 * * * *" and reverts_of(app, event_id) == []


def test_undo_a_create_deletes_and_undo_a_delete_recreates_from_the_version(app: Flask, login_as: Auth) -> None:
    task_id = make_task(app, name="made", cron="15 3 * * *")
    with app.app_context():
        created = audit.record_event(
            "create",
            actor="admin@example.com",
            object_type="task",
            object_id=str(task_id),
            after={"name": "made", "cron": "15 3 * * *"},
        )
        db.session.commit()
        created_id = created.id
    login_as("admin")
    page = login_as.client.get(f"/admin/audit/{created_id}/revert").get_data(as_text=True)
    assert "This deletes the task" in page
    assert login_as.post(f"/admin/audit/{created_id}/revert").status_code == 302
    assert task_cron(app, task_id) is None
    with app.app_context():
        versions = version_class(Task)
        delete_tx = db.session.scalar(sa.select(sa.func.max(versions.transaction_id)).where(versions.id == task_id))
        (deleted_id,) = db.session.scalars(sa.select(AuditEvent.id).where(AuditEvent.reverts_id == created_id))
        # The row-change hook's delete event: ``before`` and the Continuum transaction of the delete.
        deleted = db.session.get(AuditEvent, deleted_id)
        deleted.transaction_id = delete_tx
        db.session.commit()
    page = login_as.client.get(f"/admin/audit/{deleted_id}/revert").get_data(as_text=True)
    assert "This recreates the task" in page
    assert login_as.post(f"/admin/audit/{deleted_id}/revert").status_code == 302
    assert task_cron(app, task_id) == "15 3 * * *"
    with app.app_context():
        task = db.session.get(Task, task_id)
        assert (task.name, task.dag_id) == ("made", "example_quick")


def test_events_without_a_change_have_no_revert(app: Flask, login_as: Auth) -> None:
    login_as("admin")
    signin = add(app, "sign_in", actor="admin@example.com", category="auth")
    page = login_as.client.get(f"/admin/audit/{signin}/").get_data(as_text=True)
    assert 'data-testid="audit-revert"' not in page
    response = login_as.client.get(f"/admin/audit/{signin}/revert", follow_redirects=True)
    assert "nothing to revert" in response.get_data(as_text=True)


def test_an_airflow_object_change_without_its_service_says_it_cannot_be_reverted(
    app: Flask, login_as: Auth, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib

    real = importlib.import_module

    def no_airflow_objects(name: str, *args: Any) -> Any:
        if name == "console.services.airflow_objects":
            raise ImportError(name)
        return real(name, *args)

    monkeypatch.setattr(importlib, "import_module", no_airflow_objects)
    login_as("admin")
    event_id = add(
        app,
        "variable_update",
        category="airflow",
        object_type="variable",
        object_id="k",
        server_name="prod",
        before={"value": "a"},
        after={"value": "b"},
    )
    response = login_as.post(f"/admin/audit/{event_id}/revert", follow_redirects=True)
    assert "Cannot revert this kind of change (variable)" in response.get_data(as_text=True)
    assert reverts_of(app, event_id) == []


def test_a_change_made_outside_asks_before_reverting_anyway(
    app: Flask, login_as: Auth, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fake airflow_objects service (the real one talks to Airflow): ChangedOutside -> warning + force."""
    import sys
    import types

    calls: list[bool] = []
    module = types.ModuleType("console.services.airflow_objects")

    class ChangedOutside(Exception):
        pass

    def preview_revert(event: AuditEvent) -> Any:
        raise ChangedOutside("The variable k was changed outside the console.")

    def revert_change(event: AuditEvent, *, actor: str, force: bool = False) -> None:
        calls.append(force)
        if not force:
            raise ChangedOutside("The variable k was changed outside the console.")
        audit.record_event(
            "variable_update",
            actor=actor,
            category="airflow",
            object_type="variable",
            object_id="k",
            before={"value": "b"},
            after={"value": "a"},
        )

    module.ChangedOutside, module.preview_revert, module.revert_change = ChangedOutside, preview_revert, revert_change  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "console.services.airflow_objects", module)
    login_as("admin")
    event_id = add(
        app,
        "variable_update",
        category="airflow",
        object_type="variable",
        object_id="k",
        server_name="prod",
        before={"value": "a"},
        after={"value": "b"},
    )
    page = login_as.client.get(f"/admin/audit/{event_id}/revert").get_data(as_text=True)
    assert "changed outside the console" in page and "Revert anyway" in page
    refused = login_as.post(f"/admin/audit/{event_id}/revert")
    assert refused.status_code == 409 and "Revert anyway" in refused.get_data(as_text=True)
    assert login_as.post(f"/admin/audit/{event_id}/revert", data={"force": "1"}).status_code == 302
    assert calls == [False, True]
    assert len(reverts_of(app, event_id)) == 1


def test_airflow_failing_during_a_revert_is_a_message_not_an_error(
    app: Flask, login_as: Auth, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fake airflow_objects whose revert fails as a service error does (Airflow down)."""
    import sys
    import types

    from console.services.errors import ServiceError

    module = types.ModuleType("console.services.airflow_objects")

    def preview_revert(event: AuditEvent) -> Any:
        return [{"name": "value", "old": "b", "new": "a"}]

    def revert_change(event: AuditEvent, *, actor: str, force: bool = False) -> None:
        raise ServiceError("Airflow server prod did not answer within 10 s.")

    module.preview_revert, module.revert_change = preview_revert, revert_change  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "console.services.airflow_objects", module)
    login_as("admin")
    event_id = add(app, "variable_update", category="airflow", object_type="variable", object_id="k",
                   server_name="prod", before={"value": "a"}, after={"value": "b"})  # fmt: skip
    preview = login_as.client.get(f"/admin/audit/{event_id}/revert").get_data(as_text=True)
    assert 'data-field="value"' in preview and "Revert anyway" not in preview
    response = login_as.post(f"/admin/audit/{event_id}/revert", follow_redirects=True)
    assert response.status_code == 200
    assert "did not answer within 10 s" in response.get_data(as_text=True)
    assert reverts_of(app, event_id) == []


def test_a_settings_first_change_shows_its_default_as_the_old_value(app: Flask, login_as: Auth) -> None:
    """A setting without a stored value has its default: the diff and the revert say so, not "(none)"."""
    from console.services import settings

    login_as("admin")
    with app.app_context():
        default = settings.value("dashboard_refresh_seconds")
        settings.save({"dashboard_refresh_seconds": str(default + 15)})
        event_id = db.session.scalar(
            sa.select(AuditEvent.id).where(
                AuditEvent.object_type == "setting", AuditEvent.object_id == "dashboard_refresh_seconds"
            )
        )
    entry = login_as.client.get(f"/admin/audit/{event_id}/").get_data(as_text=True)
    assert f"{default} (default)</span>" in entry and f"{default + 15}</span>" in entry
    preview = login_as.client.get(f"/admin/audit/{event_id}/revert").get_data(as_text=True)
    assert f"{default} (default)</span>" in preview
    assert login_as.post(f"/admin/audit/{event_id}/revert").status_code == 302
    with app.app_context():
        assert settings.value("dashboard_refresh_seconds") == default


def test_the_confirmation_lists_what_airflow_objects_preview_returns(
    app: Flask, login_as: Auth, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real service's RevertPreview (field, now, after) tuples and flags, with Airflow faked
    away: the page once showed one "None (none) -> (none)" row for them."""
    from console.services import airflow_objects

    def preview_revert(event: AuditEvent) -> Any:
        return airflow_objects.RevertPreview("update", [("value", "b-now", "a-then")], True, ["description"])

    monkeypatch.setattr(airflow_objects, "preview_revert", preview_revert)
    login_as("admin")
    event_id = add(app, "variable.update", category="airflow", object_type="variable", object_id="k",
                   server_name="prod", before={"value": "a-then"}, after={"value": "b"})  # fmt: skip
    page = login_as.client.get(f"/admin/audit/{event_id}/revert").get_data(as_text=True)
    assert 'data-field="value"' in page and "b-now" in page and "a-then" in page and 'data-field="None"' not in page
    assert "changed outside the console" in page and "never saw the old value of description" in page
    assert "Revert anyway" in page


def test_reverting_a_role_change_previews_and_restores_the_roles(app: Flask, login_as: Auth) -> None:
    """A user's roles are a collection: the confirmation shows them by name (it once failed on them)."""
    from console.services import users
    from tests.conftest import make_user

    make_user(app, "ana@example.com", "viewer")
    with app.app_context():
        users.add_role("ana@example.com", "operator")
        db.session.commit()
        event_id = db.session.scalar(
            sa.select(AuditEvent.id).where(AuditEvent.action == "user.update").order_by(AuditEvent.id.desc())
        )
    login_as("admin")
    preview = login_as.client.get(f"/admin/audit/{event_id}/revert")
    page = preview.get_data(as_text=True)
    assert preview.status_code == 200 and 'data-field="roles"' in page
    assert "[&#34;operator&#34;, &#34;viewer&#34;]" in page and "[&#34;viewer&#34;]" in page
    assert login_as.post(f"/admin/audit/{event_id}/revert").status_code == 302
    with app.app_context():
        assert [r.name for r in users.find_user("ana@example.com").roles] == ["viewer"]
