"""Airflow Console: a Flask-Admin console for Apache Airflow deployments."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the WSGI app. It only wires: no I/O, no queries."""
    app = Flask(__name__, instance_relative_config=True)
    from console.config import load_config

    load_config(app, test_config)
    register_extensions(app)
    register_security(app)
    register_observability(app)
    register_blueprints(app)
    register_admin(app)
    register_commands(app)
    return app


def register_extensions(app: Flask) -> None:
    import console.models  # noqa: F401  (every model, mappers configured)
    from console.database import init_database
    from console.extensions import cache, csrf, db, migrate

    db.init_app(app)
    init_database(app)
    from console.services.settings import init_app as init_settings

    init_settings(app)
    from console.services.audit_changes import install as audit_row_changes

    audit_row_changes()
    migrate.init_app(app, db, directory=str(app.config.get("MIGRATIONS_DIR", _migrations_dir())))
    csrf.init_app(app)
    cache.init_app(app)
    from console.services.read_cache import init_app as init_read_cache

    init_read_cache(app)
    from console.airflow.registry import init_app as init_airflow

    init_airflow(app)
    from console.services.log_cache import init_app as init_log_memory

    init_log_memory(app)
    from console.jobs import init_app as init_jobs

    init_jobs(app)


def register_security(app: Flask) -> None:
    from flask_security import SQLAlchemyUserDatastore

    from console.extensions import db, security
    from console.models import Role, User
    from console.security import access, login, proxies
    from console.security.redirects import keep_redirects_on_site
    from console.security.throttle import enforce_address_limit

    proxies.init_app(app)
    security.init_app(
        app,
        SQLAlchemyUserDatastore(db, User, Role),
        login_form=login.ProtectedLoginForm,
        verify_form=login.ProtectedVerifyForm,
        change_password_form=login.ProtectedChangePasswordForm,
    )
    app.login_manager.session_protection = "strong"  # type: ignore[attr-defined]
    # Sessions only: Flask-Security's request loader would accept ``?auth_token=`` and the
    # Authentication-Token header, and the console has no API that needs them yet.
    app.login_manager.request_loader(lambda _request: None)  # type: ignore[attr-defined]
    app.before_request(enforce_address_limit)
    app.after_request(keep_redirects_on_site)
    access.init_app(app)
    from console.services import audit_auth

    audit_auth.init_app(app)

    from console.services import outages

    outages.init_app(app)


def register_observability(app: Flask) -> None:
    from console.observability import init_app

    init_app(app)


def register_blueprints(app: Flask) -> None:
    from console.health import bp as health_bp

    app.register_blueprint(health_bp)


def register_admin(app: Flask) -> None:
    from console.admin import init_admin

    init_admin(app)


def register_commands(app: Flask) -> None:
    from console.cli import register

    register(app)


def _migrations_dir() -> str:
    from pathlib import Path

    return str(Path(__file__).resolve().parent / "migrations")
