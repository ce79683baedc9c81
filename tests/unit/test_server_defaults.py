"""A new server's timeouts come from the configuration, whichever way it is created."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from flask import Flask

from console.extensions import db
from console.services import servers


@pytest.fixture
def app(app_factory: Callable[..., Flask]) -> Flask:
    return app_factory(AIRFLOW_DEFAULT_CONNECT_TIMEOUT=4.5, AIRFLOW_DEFAULT_READ_TIMEOUT=42.0)


def field_value(html: str, name: str) -> str:
    tag = re.search(rf'<input[^>]*\bname="{name}"[^>]*>', html)
    assert tag is not None, name
    value = re.search(r'\bvalue="([^"]*)"', tag.group(0))
    return value.group(1) if value else ""


def test_the_new_server_form_starts_from_the_configured_timeouts(login_as) -> None:
    login_as("admin")
    html = login_as.client.get("/admin/servers/new/").get_data(as_text=True)
    assert (field_value(html, "connect_timeout"), field_value(html, "read_timeout")) == ("4.5", "42.0")


def test_a_server_registered_without_timeouts_gets_the_configured_ones(app: Flask) -> None:
    with app.app_context():
        server = servers.register_server(name="cli", base_url="http://airflow.internal:8080")
        db.session.commit()
        assert (server.connect_timeout, server.read_timeout) == (4.5, 42.0)
