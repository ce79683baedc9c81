"""Console settings: each type's validation, the page's form errors (input kept), deployment pins,
write-only secrets (never rendered nor versioned), the CLI's shared rules, and who may use the page."""

from __future__ import annotations

import re
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from console.extensions import db
from console.models import Setting
from console.services import settings
from console.services.setting_types import parse
from console.services.settings_registry import REGISTRY, Definition, InvalidSetting, definition
from tests.conftest import Auth

PAGE = "/admin/settings/"
PLANTED = "planted-Secret-7c1f9e"  # a secret that must appear nowhere it is shown or versioned


def choice() -> Definition:
    return Definition("colour", "Colour", "Test", "choice", "SMTP_FROM", "", choices={"red": "Red", "blue": "Blue"})


@pytest.mark.parametrize(
    ("name", "raw", "expected"),
    [
        ("log_page_size", "750", 750),
        ("log_page_size", " 2_000 ", 2000),
        ("alert_timeout_seconds", "2.5", 2.5),
        ("smtp_starttls", "yes", True),
        ("smtp_starttls", "off", False),
        ("smtp_host", "mail.example.com", "mail.example.com"),
        ("smtp_host", "", ""),
        ("smtp_from", "alerts@example.com", "alerts@example.com"),
        ("default_timezone", "Europe/Paris", "Europe/Paris"),
        ("webhook_allowed_hosts", "10.20.0.0/16\nhooks.internal", ["10.20.0.0/16", "hooks.internal"]),
        ("webhook_allowed_hosts", '["127.0.0.1"]', ["127.0.0.1"]),
        ("webhook_allowed_hosts", "", []),
        ("smtp_password", "  s3cret  ", "s3cret"),
    ],
)
def test_each_type_parses_what_a_person_types(name: str, raw: str, expected: Any) -> None:
    assert parse(definition(name), raw) == expected


@pytest.mark.parametrize(
    ("name", "raw", "message"),
    [
        ("log_page_size", "abc", "Enter a whole number of lines."),
        ("log_page_size", "7.5", "Enter a whole number of lines."),
        ("log_page_size", "49", "Enter a value between 50 and 2000 lines."),
        ("log_page_size", "2001", "Enter a value between 50 and 2000 lines."),
        ("alert_timeout_seconds", "nan", "Enter a finite number."),
        ("alert_timeout_seconds", "0.1", "Enter a value between 0.5 and 60 seconds."),
        ("smtp_starttls", "maybe", "Enter yes or no."),
        ("smtp_host", "smtp://mail:25", "Enter a host name or IP address (no scheme, no port)."),
        ("smtp_from", "not an address", "Enter an email address such as alerts@example.com."),
        ("default_timezone", "Mars/Olympus", "Unknown time zone 'Mars/Olympus'"),
        ("webhook_allowed_hosts", "10.0.0.0/33", "'10.0.0.0/33' is neither a host name nor a CIDR"),
        ("webhook_allowed_hosts", '["a", 1]', "Enter one value per line, or a JSON list of strings."),
        ("smtp_username", "x" * 501, "Enter at most 500 characters."),
    ],
)
def test_each_type_refuses_bad_input_with_a_message(name: str, raw: str, message: str) -> None:
    with pytest.raises(InvalidSetting) as refused:
        parse(definition(name), raw)
    assert message in str(refused.value)


def test_a_choice_takes_only_its_choices() -> None:
    assert parse(choice(), "blue") == "blue"
    with pytest.raises(InvalidSetting, match=r"Choose one of: red, blue\."):
        parse(choice(), "green")


def test_every_default_is_valid_for_its_own_rules() -> None:
    from console.services.setting_types import display

    for d in REGISTRY:
        if not d.secret:
            assert parse(d, display(d, d.default)) == (d.default if d.default is not None else ""), d.name


def admin_client(app: Flask) -> Any:
    client = app.test_client()
    Auth(app, client)("admin")
    return client


def post(client: Any, data: dict[str, Any], path: str = PAGE) -> Any:
    from tests.conftest import csrf_token

    return client.post(path, data={"csrf_token": csrf_token(client, PAGE), **data})


def stored(app: Flask) -> dict[str, Setting]:
    with app.app_context():
        rows = db.session.scalars(sa.select(Setting)).all()
        db.session.expunge_all()
        return {row.name: row for row in rows}


def test_page_shows_each_setting_with_its_current_value_default_and_help(app: Flask) -> None:
    client = admin_client(app)
    page = client.get(PAGE).get_data(as_text=True)
    for d in REGISTRY:
        assert f'data-testid="setting-{d.name}"' in page
        assert str(d.help).replace("'", "&#39;") in page
    assert 'value="500"' in page and "default: <code>500</code>" in page  # the log page size


def test_a_valid_change_is_stored_shown_and_read(app: Flask) -> None:
    client = admin_client(app)
    answer = post(client, {"log_page_size": "750", "default_timezone": "Europe/Paris"})
    assert answer.status_code == 302
    page = client.get(PAGE).get_data(as_text=True)
    assert "Saved: default_timezone, log_page_size." in page
    assert re.search(r'id="setting-log_page_size" name="log_page_size" value="750"', page)
    with app.app_context():
        assert settings.value("log_page_size") == 750
        assert settings.value("default_timezone") == "Europe/Paris"
    assert stored(app)["log_page_size"].value_json == "750"


def test_bad_values_are_form_errors_with_the_input_kept_and_nothing_saved(app: Flask) -> None:
    client = admin_client(app)
    answer = post(client, {"log_page_size": "lots", "smtp_port": "70000", "dashboard_refresh_seconds": "60"})
    page = answer.get_data(as_text=True)
    assert answer.status_code == 400
    assert "Nothing was saved" in page
    assert 'data-testid="error-log_page_size">Enter a whole number of lines.' in page
    assert 'data-testid="error-smtp_port">Enter a value between 1 and 65535.' in page
    assert 'name="log_page_size" value="lots"' in page and 'name="smtp_port" value="70000"' in page
    assert 'name="dashboard_refresh_seconds" value="60"' in page  # the valid one is kept too, unsaved
    assert stored(app) == {}


def test_rules_between_settings_are_checked_on_the_values_after_the_change(app: Flask) -> None:
    client = admin_client(app)
    answer = post(client, {"login_delay_base_seconds": "600", "login_delay_max_seconds": "300"})
    assert answer.status_code == 400
    assert "The longest delay cannot be shorter than the first delay." in answer.get_data(as_text=True)


def test_the_default_webhook_is_checked_against_the_allow_list_being_saved(app: Flask) -> None:
    client = admin_client(app)
    refused = post(client, {"alert_default_webhook": "http://127.0.0.1:9/hook"})
    assert refused.status_code == 400
    assert "The webhook is refused" in refused.get_data(as_text=True)
    assert "127.0.0.1:9/hook" not in refused.get_data(as_text=True)  # a secret is never rendered back
    allowed = post(client, {"alert_default_webhook": "http://127.0.0.1:9/hook", "webhook_allowed_hosts": "127.0.0.1"})
    assert allowed.status_code == 302


def test_a_pinned_setting_is_shown_read_only_and_the_deployment_value_wins(app_factory: Any) -> None:
    free = app_factory()
    with free.app_context():
        settings.save({"log_page_size": "800", "cache_seconds_runs": "45"})
    pinned = app_factory(LOG_PAGE_SIZE=700, CACHE_SECONDS={"log": 5})
    client = admin_client(pinned)
    page = client.get(PAGE).get_data(as_text=True)
    row = page.split('data-testid="setting-log_page_size"', 1)[1].split("</li>", 1)[0]
    assert "set by the deployment" in row and "disabled" in row and 'value="700"' in row
    log_row = page.split('data-testid="setting-cache_seconds_log"', 1)[1].split("</li>", 1)[0]
    runs_row = page.split('data-testid="setting-cache_seconds_runs"', 1)[1].split("</li>", 1)[0]
    assert "set by the deployment" in log_row and "set by the deployment" not in runs_row
    with pinned.app_context():
        assert settings.value("log_page_size") == 700  # the stored 800 does not apply here
        assert settings.value("cache_seconds_log") == 5
        assert settings.value("cache_seconds_runs") == 45
        with pytest.raises(settings.SettingsInvalid, match="Set by the deployment"):
            settings.save({"log_page_size": "900"})
    post(client, {"log_page_size": "900"})  # a pinned field sent anyway is ignored
    assert stored(pinned)["log_page_size"].value_json == "800"


def test_a_secret_is_write_only_encrypted_and_never_rendered_nor_versioned(app: Flask) -> None:
    client = admin_client(app)
    assert post(client, {"smtp_password": PLANTED}).status_code == 302
    page = client.get(PAGE).get_data(as_text=True)
    assert PLANTED not in page
    row = page.split('data-testid="setting-smtp_password"', 1)[1].split("</li>", 1)[0]
    assert 'value=""' in row and "stored: leave blank to keep it" in row
    with app.app_context():
        assert settings.value("smtp_password") == PLANTED
    assert post(client, {"smtp_password": "", "smtp_port": "2525"}).status_code == 302  # blank keeps it
    with app.app_context():
        assert settings.value("smtp_password") == PLANTED
        dump = [
            str(r)
            for table in ("setting", "setting_version")
            for r in db.session.execute(sa.text(f"SELECT * FROM {table}")).all()
        ]
        versions = db.session.execute(
            sa.text("SELECT secret_changed_at FROM setting_version WHERE name = 'smtp_password'")
        ).all()
    assert dump and not any(PLANTED in line for line in dump)
    assert len(versions) == 1 and versions[0][0] is not None  # the history says *when*, never what
    assert post(client, {"clear": "smtp_password"}).status_code == 302
    with app.app_context():
        assert settings.value("smtp_password") is None
    assert "not set" in client.get(PAGE).get_data(as_text=True).split('data-testid="setting-smtp_password"')[1][:900]


def test_every_change_is_a_version_with_the_value(app: Flask) -> None:
    client = admin_client(app)
    post(client, {"log_page_size": "600"})
    post(client, {"log_page_size": "650"})
    with app.app_context():
        rows = db.session.execute(
            sa.text("SELECT value_json FROM setting_version WHERE name = 'log_page_size' ORDER BY transaction_id")
        ).all()
    assert [r[0] for r in rows] == ["600", "650"]


@pytest.mark.parametrize("role", ["viewer", "operator"])
def test_only_admins_reach_the_settings(app: Flask, role: str) -> None:
    client = app.test_client()
    auth = Auth(app, client)
    auth(role)
    assert client.get(PAGE).status_code == 403
    assert auth.post(PAGE, {"log_page_size": "600"}).status_code == 403
    assert auth.post(PAGE + "test-alert").status_code == 403
    assert stored(app) == {}


def test_the_cli_applies_the_same_rules(app: Flask) -> None:
    runner = app.test_cli_runner()
    refused = runner.invoke(args=["settings", "set", "log_page_size", "many"])
    assert refused.exit_code == 1 and "Enter a whole number of lines." in refused.output
    done = runner.invoke(args=["settings", "set", "smtp_password", PLANTED])
    assert done.exit_code == 0 and "Changed: smtp_password." in done.output
    listed = runner.invoke(args=["settings", "list"])
    assert "smtp_password = (set)" in listed.output and PLANTED not in listed.output
    with app.app_context():
        actor = db.session.execute(sa.text('SELECT actor FROM "transaction" ORDER BY id DESC LIMIT 1')).scalar()
    assert actor == "system:cli"


def test_instance_config_and_environment_pin_their_settings(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from console.config import load_config

    (tmp_path / "config.py").write_text('SECRET_KEY = "k" * 40\nSMTP_HOST = "mail.internal"\nSMTP_PORT = 25\n')
    monkeypatch.setenv("CONSOLE_LOG_PAGE_SIZE", "600")
    app = Flask("pins", instance_path=str(tmp_path), instance_relative_config=True)
    load_config(app)
    pins = app.extensions["deployment_config"]
    assert pins["SMTP_HOST"] == "mail.internal" and pins["LOG_PAGE_SIZE"] == 600
    assert pins["SMTP_PORT"] == 25  # set to its default, still the deployment's choice
    assert "DASHBOARD_REFRESH_SECONDS" not in pins


def test_a_session_lifetime_pinned_as_a_timedelta_is_read_in_seconds(app_factory: Any) -> None:
    from datetime import timedelta

    app = app_factory(PERMANENT_SESSION_LIFETIME=timedelta(hours=2))
    client = admin_client(app)
    assert "set by the deployment" in client.get(PAGE).get_data(as_text=True)
    assert app.permanent_session_lifetime == timedelta(hours=2)
    with app.app_context():
        assert settings.value("session_lifetime_seconds") == 7200


def test_every_cache_kind_has_a_lifetime_setting() -> None:
    # A new kind of cached read without its setting would fail the first page that reads it.
    from console.config import DefaultConfig
    from console.services.settings_registry import REGISTRY

    names = {d.name for d in REGISTRY}
    assert {f"cache_seconds_{kind}" for kind in DefaultConfig.CACHE_SECONDS} <= names
