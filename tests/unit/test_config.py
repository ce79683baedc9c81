"""Config layering and validation."""

from __future__ import annotations

import pytest
from flask import Flask

from console import create_app
from console.config import ConfigError, apply_environment, validate_config
from tests.conftest import base_config


def test_missing_secret_key_fails_fast_with_a_readable_message() -> None:
    with pytest.raises(ConfigError, match="SECRET_KEY is not set"):
        create_app(base_config("sqlite://", SECRET_KEY=None))


def test_placeholder_or_short_secret_is_refused() -> None:
    config = dict(base_config("sqlite://"), TESTING=False)
    for secret in ("change-me", "short"):
        config["SECRET_KEY"] = secret
        with pytest.raises(ConfigError):
            validate_config(config)


def test_environment_overrides_typed_like_defaults() -> None:
    app = Flask(__name__)
    app.config.update(LOGIN_MAX_FAILURES=5, SESSION_COOKIE_SECURE=True, AIRFLOW_DEFAULT_READ_TIMEOUT=10.0)
    apply_environment(
        app,
        {
            "CONSOLE_LOGIN_MAX_FAILURES": "7",
            "CONSOLE_SESSION_COOKIE_SECURE": "false",
            "CONSOLE_DATABASE_URL": "postgresql+psycopg://x@db/console",
            "CONSOLE_AIRFLOW_DEFAULT_READ_TIMEOUT": "2.5",
            "UNRELATED": "1",
        },
    )
    assert app.config["LOGIN_MAX_FAILURES"] == 7
    assert app.config["SESSION_COOKIE_SECURE"] is False
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://x@db/console"
    assert app.config["AIRFLOW_DEFAULT_READ_TIMEOUT"] == 2.5


def test_bad_environment_value_names_the_variable() -> None:
    app = Flask(__name__)
    app.config["LOGIN_MAX_FAILURES"] = 5
    with pytest.raises(ConfigError, match="CONSOLE_LOGIN_MAX_FAILURES"):
        apply_environment(app, {"CONSOLE_LOGIN_MAX_FAILURES": "many"})


def test_unsupported_database_is_refused() -> None:
    with pytest.raises(ConfigError, match="sqlite:// or postgresql://"):
        create_app(base_config("mysql://x@y/z"))


def test_create_app_runs_no_query(tmp_path) -> None:
    """The factory only wires: pointing it at a database that does not exist must not fail."""
    app = create_app(base_config("postgresql+psycopg://nobody@127.0.0.1:1/none"))
    assert "console_admin" in app.extensions
