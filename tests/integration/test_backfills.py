"""Backfills against the real sandbox: a three-day backfill of ``example_daily`` is dry-run (three
runs listed, nothing created), created (three runs in Airflow), refused while it runs, paused and
cancelled from its Backfills tab, each step audited; bad input is a form error with the input
kept; viewers see the tab and are refused every change.

``example_daily`` stays paused, so the backfill's runs stay queued (Airflow starts no run of a
paused DAG) and the test sees each state it asks for, whatever the machine's speed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timedelta
from html import unescape
from typing import Any

import pytest
import sqlalchemy as sa

from console.airflow.client import AirflowClient
from console.extensions import db
from console.models import AuditEvent
from tests.conftest import sandbox_api, wait_until

pytestmark = pytest.mark.integration

DAG_ID = "example_daily"
FORM = {"max_active_runs": "2", "reprocess_behavior": "none", "conf": '{"source": "console integration test"}'}


def fresh_days(api: AirflowClient, days: int = 3) -> list[date]:
    """The first ``days`` consecutive days from 2025-01-01 on which example_daily has no run, so a
    backfill of them creates its runs afresh on a reused sandbox too (Airflow 3.3 on the
    sandbox's SQLite answers 503 when a backfill must clear an existing run)."""
    taken = {r.logical_date.date() for r in api.list_dag_runs(DAG_ID, limit=5000) if r.logical_date}
    first = date(2025, 1, 1)
    while any(first + timedelta(n) in taken for n in range(days)):
        first += timedelta(1)
    return [first + timedelta(n) for n in range(days)]


#: Days for the requests that are refused before Airflow creates anything.
DAYS = [date(2025, 3, 1), date(2025, 3, 3)]


def form_for(days: list[date], **changes: str) -> dict[str, str]:
    return {**FORM, "from_date": days[0].isoformat(), "to_date": days[-1].isoformat(), **changes}


def cancel_active(api: AirflowClient) -> None:
    for backfill in api.list_backfills(DAG_ID, limit=100).backfills:
        if backfill.active:
            api.change_backfill(backfill.id, "cancel")


@pytest.fixture
def api(airflow_sandbox: Any) -> Iterator[AirflowClient]:
    """The sandbox, with example_daily paused and no backfill of it running, before and after."""
    client = sandbox_api(airflow_sandbox, "backfill-api")
    if not client.get_dag(DAG_ID).is_paused:
        client.set_paused(DAG_ID, True)
    cancel_active(client)
    yield client
    cancel_active(client)


def text(response: Any) -> str:
    return unescape(response.get_data(as_text=True))


def base(server_id: int) -> str:
    return f"/admin/dags/{server_id}/{DAG_ID}/backfills"


def test_a_three_day_backfill_is_dry_run_created_refused_again_paused_and_cancelled(
    app, login_as, sandbox_server, api
) -> None:
    operator = login_as("operator")
    before = {b.id for b in api.list_backfills(DAG_ID, limit=100).backfills}
    days = fresh_days(api)
    form = form_for(days)

    dry = login_as.post(f"{base(sandbox_server)}/new", data=form)
    page = text(dry)
    assert dry.status_code == 200, page[:2000]
    assert re.search(r'data-testid="dry-run-count">3<', page)
    assert re.findall(r'data-testid="dry-run-date">([^<]+)<', page) == [f"{day} 00:00" for day in days]
    assert {b.id for b in api.list_backfills(DAG_ID, limit=100).backfills} == before  # a dry run creates nothing
    edit = login_as.post(f"{base(sandbox_server)}/new", data={**form, "edit": "1"})  # "Change" on the confirmation
    assert edit.status_code == 200 and 'data-testid="backfill-form"' in text(edit)
    assert f'value="{days[0]}"' in text(edit) and "dry-run-count" not in text(edit)

    created = login_as.post(f"{base(sandbox_server)}/create", data=form)
    assert created.status_code == 302 and created.headers["Location"].endswith(f"{base(sandbox_server)}/")
    backfill = api.list_backfills(DAG_ID, limit=1).backfills[0]
    assert backfill.id not in before and backfill.active and not backfill.is_paused
    assert (backfill.from_date.date(), backfill.to_date.date()) == (days[0], days[-1])
    assert (backfill.max_active_runs, backfill.reprocess_behavior) == (2, "none")
    assert backfill.dag_run_conf == {"source": "console integration test"}
    runs = wait_until(lambda: (p := api.backfill_runs(backfill)).total == 3 and p, 60, "the backfill's three runs")
    assert sorted(r.logical_date.date() for r in runs.runs) == days
    assert {r.run_type for r in runs.runs} == {"backfill"}

    tab = operator.get(f"{base(sandbox_server)}/")
    row = re.search(rf'data-testid="backfill-row" data-backfill-id="{backfill.id}" data-status="(\w+)"', text(tab))
    assert tab.status_code == 200 and row and row.group(1) == "running"
    assert re.search(rf'data-backfill-id="{backfill.id}".*?data-runs="3"', text(tab), re.S)

    again = login_as.post(
        f"{base(sandbox_server)}/create", data=form_for(days, from_date="2024-06-01", to_date="2024-06-02")
    )
    refused = text(again)
    assert again.status_code == 409
    assert (
        "There is already a running backfill for dag example_daily" in refused and 'data-testid="form-error"' in refused
    )
    assert 'value="2024-06-01"' in refused  # the input is kept

    paused = login_as.post(f"{base(sandbox_server)}/{backfill.id}/pause")
    assert paused.status_code == 302
    assert api.get_backfill(backfill.id).is_paused
    shown = text(operator.get(f"{base(sandbox_server)}/"))
    assert f'data-backfill-id="{backfill.id}" data-status="paused"' in shown

    cancelled = login_as.post(f"{base(sandbox_server)}/{backfill.id}/cancel")
    assert cancelled.status_code == 302
    assert not api.get_backfill(backfill.id).active
    shown = text(operator.get(f"{base(sandbox_server)}/"))
    assert f'data-backfill-id="{backfill.id}" data-status="completed"' in shown

    with app.app_context():
        rows = db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action.like("backfill%")).order_by(AuditEvent.id)
        ).all()
        audited = [(a.actor, a.action, a.dag_id, a.outcome) for a in rows]
        first = rows[0].detail
    assert audited == [
        ("operator@example.com", "backfill", DAG_ID, "success"),
        ("operator@example.com", "backfill", DAG_ID, "failed"),  # refused: another one runs
        ("operator@example.com", "backfill.pause", DAG_ID, "success"),
        ("operator@example.com", "backfill.cancel", DAG_ID, "success"),
    ]
    assert f'"id": {backfill.id}' in first and f'"from_date": "{days[0]}T00:00:00+00:00"' in first


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"to_date": "2025-02-01"}, "to_date", "The to date is before the from date."),
        ({"from_date": "2025-13-01"}, "from_date", "'2025-13-01' is not a date: use YYYY-MM-DD."),
        ({"from_date": ""}, "from_date", "The from date is required."),
        ({"conf": "{not json"}, "conf", "Not valid JSON"),
        ({"conf": "[1, 2]"}, "conf", "The conf must be a JSON object"),
        ({"max_active_runs": "0"}, "max_active_runs", "Max active runs must be between 1 and 1000."),
        ({"max_active_runs": "many"}, "max_active_runs", "Not a valid integer value."),
    ],
)
def test_bad_backfill_input_is_a_form_error_that_keeps_the_input(
    login_as, sandbox_server, api, change, field, message
) -> None:
    login_as("operator")
    before = api.list_backfills(DAG_ID, limit=1).total
    for step in ("new", "create"):
        response = login_as.post(f"{base(sandbox_server)}/{step}", data=form_for(DAYS, **change))
        page = text(response)
        assert response.status_code == 400, page[:1500]
        error = re.search(rf'data-field="{field}".*?data-testid="field-error">([^<]+)<', page, re.S)
        assert error and message in error.group(1)
        assert change[field] in page  # the input is kept
    assert api.list_backfills(DAG_ID, limit=1).total == before


def test_a_dag_without_a_schedule_cannot_be_backfilled_and_future_dates_are_refused_by_airflow(
    login_as, sandbox_server, api
) -> None:
    login_as("operator")
    url = f"/admin/dags/{sandbox_server}/example_quick/backfills/new"
    form = login_as.client.get(url)
    assert form.status_code == 200 and "example_quick' has no schedule" in text(form)
    dry = login_as.post(url, data=form_for(DAYS))
    assert dry.status_code == 400 and "has no schedule" in text(dry) and 'value="2025-03-01"' in text(dry)

    future = login_as.post(
        f"{base(sandbox_server)}/new", data=form_for(DAYS, from_date="2099-01-01", to_date="2099-01-03")
    )
    assert future.status_code == 400
    assert "Backfill cannot be executed for future dates" in text(future)


def test_viewers_see_backfills_and_are_refused_every_change(login_as, sandbox_server, api) -> None:
    viewer = login_as("viewer")
    tab = viewer.get(f"{base(sandbox_server)}/")
    assert tab.status_code == 200 and 'data-testid="backfills-table"' in text(tab)
    assert 'data-testid="new-backfill"' not in text(tab)
    before = api.list_backfills(DAG_ID, limit=1).total
    assert viewer.get(f"{base(sandbox_server)}/new").status_code == 403
    for path in ("new", "create", "1/pause", "1/unpause", "1/cancel"):
        assert login_as.post(f"{base(sandbox_server)}/{path}", data=form_for(DAYS)).status_code == 403, path
    assert api.list_backfills(DAG_ID, limit=1).total == before


def test_backfills_of_an_unknown_dag_or_server_are_404(login_as, sandbox_server, api) -> None:
    login_as("operator")
    assert login_as.client.get(f"/admin/dags/{sandbox_server}/no_such_dag/backfills/").status_code == 404
    assert login_as.client.get(f"/admin/dags/{sandbox_server}/no_such_dag/backfills/new").status_code == 404
    assert login_as.client.get(f"/admin/dags/9999/{DAG_ID}/backfills/new").status_code == 404
    assert login_as.post(f"{base(sandbox_server)}/1/explode").status_code == 404
    assert login_as.client.get(f"{base(sandbox_server)}/?page=x").status_code == 400
