"""The audit log page on PostgreSQL: no FTS5 there, the search is ILIKE; filters, pages, export."""

from __future__ import annotations

import json
import re
from datetime import datetime

import pytest
from flask import Flask

from console.extensions import db
from console.services import audit
from tests.conftest import Auth

pytestmark = [pytest.mark.integration, pytest.mark.postgres]


def test_search_filters_pages_and_export_on_postgres(pg_app: Flask) -> None:
    auth = Auth(pg_app, pg_app.test_client())
    auth("admin")
    with pg_app.app_context():
        made = []
        for n in range(60):
            row = audit.record_event(
                "trigger",
                actor="system:scheduler",
                category="airflow",
                server_name="prod" if n % 2 else "lab",
                dag_id=f"etl_{n}" if n % 3 == 0 else f"report_{n}",
                object_type="dag",
                object_id=str(n),
            )
            row.at = datetime(2026, 6, 1, 12, n)
            db.session.flush()
            made.append(row.id)
        db.session.commit()
    client = auth.client
    etl = client.get("/admin/audit/?q=ETL_&server=lab").get_data(as_text=True)
    expected = [made[n] for n in reversed(range(60)) if n % 3 == 0 and n % 2 == 0]
    assert [int(x) for x in re.findall(r'data-event-id="(\d+)"', etl)] == expected
    assert client.get("/admin/audit/?q=100%25").status_code == 200
    older = client.get(f"/admin/audit/?before={made[10]}&since=2026-06-01T12:05").get_data(as_text=True)
    assert older.count("data-event-id=") == 5
    rows = json.loads(client.get("/admin/audit/export?format=json&server=prod").get_data(as_text=True))
    assert len(rows) == 30 and rows[0]["id"] == made[59]
