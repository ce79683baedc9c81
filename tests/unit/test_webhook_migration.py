"""The migration that encrypts stored webhook URLs and drops their plaintext from history and deliveries."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from console import create_app
from console.extensions import db
from console.security.secrets import decrypt
from tests.conftest import base_config

HOOK = "https://hooks.example.com/services/T000/B000/xoxb-OLD-T0KEN"
NOW = "2026-06-01 10:00:00"


def test_existing_webhooks_are_encrypted_and_the_history_loses_its_plaintext(tmp_path: Path) -> None:
    app = create_app(base_config(f"sqlite:///{tmp_path / 'old.db'}"))
    with app.app_context():
        upgrade(revision="4cbb4b9b540f")
        with db.engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO airflow_server (id, name, base_url, auth_kind, verify_tls, connect_timeout,"
                    " read_timeout, max_concurrent_triggers, enabled, created_at, updated_at)"
                    " VALUES (1, 's', 'http://127.0.0.1:9', 'password', 1, 3, 10, 1, 1, :now, :now)"
                ),
                {"now": NOW},
            )
            for task_id, hook in ((1, HOOK), (2, "")):
                conn.execute(
                    sa.text(
                        "INSERT INTO task (id, name, description, server_id, dag_id, conf_json, cron, timezone,"
                        " enabled, misfire_policy, retry_window_seconds, retry_backoff_seconds, alert_emails,"
                        " alert_webhook_url, created_at, updated_at) VALUES (:id, :name, '', 1, 'd', '{}',"
                        " '0 * * * *', 'UTC', 1, 'skip', 900, 15, '', :hook, :now, :now)"
                    ),
                    {"id": task_id, "name": f"t{task_id}", "hook": hook, "now": NOW},
                )
            conn.execute(
                sa.text(
                    "INSERT INTO task_version (id, transaction_id, operation_type, alert_webhook_url)"
                    " VALUES (1, 1, 0, :hook)"
                ),
                {"hook": HOOK},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO task_run (id, task_id, scheduled_for, kind, state, dag_run_id, attempts, created_at)"
                    " VALUES (1, 1, :now, 'scheduled', 'failed', 'r1', 1, :now)"
                ),
                {"now": NOW},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO alert_delivery (id, task_run_id, channel, target, succeeded, attempted_at)"
                    " VALUES (1, 1, 'webhook', :hook, 0, :now), (2, 1, 'email', 'a@example.com', 1, :now)"
                ),
                {"hook": HOOK, "now": NOW},
            )
        upgrade()
        with db.engine.connect() as conn:
            rows = dict(conn.execute(sa.text("SELECT id, alert_webhook_ciphertext FROM task")).all())
            history = conn.execute(sa.text("SELECT * FROM task_version")).all()
            targets = conn.execute(sa.text("SELECT target FROM alert_delivery ORDER BY id")).scalars().all()
        assert decrypt(rows[1]) == HOOK and "OLD-T0KEN" not in rows[1] and rows[2] == ""
        assert len(history) == 1 and "OLD-T0KEN" not in repr(history)
        assert targets == ["https://hooks.example.com/…", "a@example.com"]  # the task's runs are all kept

        downgrade(revision="4cbb4b9b540f")
        with db.engine.connect() as conn:
            back = dict(conn.execute(sa.text("SELECT id, alert_webhook_url FROM task")).all())
        assert back == {1: HOOK, 2: ""}
        db.engine.dispose()
