"""Settings on PostgreSQL: a change saved by one app is read by another without restart, and
the secret stays out of the version table."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from flask import Flask

from console.extensions import db
from console.services import settings
from tests.conftest import base_config, build_app, empty_database

pytestmark = [pytest.mark.integration, pytest.mark.postgres]


@pytest.fixture
def two_apps(pg_url: str) -> Iterator[tuple[Flask, Flask]]:
    apps = (build_app(base_config(pg_url)), build_app(base_config(pg_url)))
    yield apps
    empty_database(apps[0])
    for app in apps:
        with app.app_context():
            db.engine.dispose()


def test_a_change_is_read_by_another_app_on_postgres(two_apps: tuple[Flask, Flask]) -> None:
    one, two = two_apps
    with two.app_context():
        assert settings.value("log_page_size") == 500
    with one.app_context():
        settings.save({"log_page_size": "900", "smtp_password": "pg-planted-secret"})
        settings.save({"log_page_size": "950"})
    with two.app_context():
        assert settings.value("log_page_size") == 950
        assert settings.value("smtp_password") == "pg-planted-secret"
        versions = db.session.execute(sa.text("SELECT * FROM setting_version")).all()
    assert len(versions) == 3 and not any("pg-planted-secret" in str(row) for row in versions)
