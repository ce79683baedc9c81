"""``manage.py users ...``, ``setup`` and ``seed-demo``: effects, messages and exit codes."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask import Flask

from console.extensions import db
from console.models import Transaction, User
from tests.conftest import Auth


def users_in(app: Flask) -> dict[str, tuple[list[str], bool]]:
    with app.app_context():
        return {u.email: (u.role_names, u.active) for u in db.session.scalars(sa.select(User))}


def test_create_with_flag_and_sign_in(app: Flask, runner, client) -> None:
    result = runner.invoke(
        args=["users", "create", "ops@example.com", "--role", "operator", "--password", "a long enough pw"]
    )
    assert result.exit_code == 0, result.output
    assert users_in(app)["ops@example.com"] == (["operator"], True)
    assert Auth(app, client).login("ops@example.com", "a long enough pw").status_code == 302


def test_create_from_prompt_and_generated(app: Flask, runner) -> None:
    prompted = runner.invoke(
        args=["users", "create", "p@example.com", "--role", "viewer"], input="prompted password\nprompted password\n"
    )
    assert prompted.exit_code == 0, prompted.output
    generated = runner.invoke(args=["users", "create", "g@example.com", "--role", "viewer", "--generate"])
    assert generated.exit_code == 0
    assert "Password: " in generated.output
    assert {"p@example.com", "g@example.com"} <= set(users_in(app))


def test_non_ascii_password_from_cli_signs_in(app: Flask, runner, client) -> None:
    password = "ﬁancé passwörd ①"
    result = runner.invoke(args=["users", "create", "u@example.com", "--role", "viewer", "--password", password])
    assert result.exit_code == 0, result.output
    assert Auth(app, client).login("u@example.com", password).status_code == 302


def test_bad_input_exits_non_zero_with_clear_message(app: Flask, runner) -> None:
    runner.invoke(args=["users", "create", "dup@example.com", "--role", "viewer", "--password", "a long enough pw"])
    cases = {
        ("users", "create", "x@example.com", "--role", "king", "--password", "a long enough pw"): "not one of",
        ("users", "create", "dup@example.com", "--role", "viewer", "--password", "a long enough pw"): "already exists",
        ("users", "create", "w@example.com", "--role", "viewer", "--password", "short"): "at least 12",
        ("users", "create", "not-an-email", "--role", "viewer", "--password", "a long enough pw"): "Invalid email",
        ("users", "set-password", "ghost@example.com", "--password", "a long enough pw"): "No user",
    }
    for args, message in cases.items():
        result = runner.invoke(args=list(args))
        assert result.exit_code != 0, args
        assert message in result.output, (args, result.output)
    assert "w@example.com" not in users_in(app)


def test_list_set_password_deactivate_roles(app: Flask, runner, client) -> None:
    runner.invoke(args=["users", "create", "a@example.com", "--role", "admin", "--password", "a long enough pw"])
    runner.invoke(args=["users", "create", "b@example.com", "--role", "viewer", "--password", "a long enough pw"])
    listing = runner.invoke(args=["users", "list"]).output
    assert "a@example.com\tadmin\tactive" in listing and "b@example.com\tviewer\tactive" in listing
    assert (
        runner.invoke(args=["users", "set-password", "b@example.com", "--password", "another long pw"]).exit_code == 0
    )
    assert Auth(app, client).login("b@example.com", "another long pw").status_code == 302
    assert runner.invoke(args=["users", "add-role", "b@example.com", "operator"]).exit_code == 0
    assert users_in(app)["b@example.com"][0] == ["operator", "viewer"]
    assert runner.invoke(args=["users", "remove-role", "b@example.com", "viewer"]).exit_code == 0
    assert runner.invoke(args=["users", "deactivate", "b@example.com"]).exit_code == 0
    assert users_in(app)["b@example.com"][1] is False
    assert client.get("/admin/").status_code == 302  # the deactivated user's session ended
    assert runner.invoke(args=["users", "activate", "b@example.com"]).exit_code == 0
    last_admin = runner.invoke(args=["users", "deactivate", "a@example.com"])
    assert last_admin.exit_code == 1 and "last active admin" in last_admin.output


def test_setup_creates_admin_once_and_seed_demo(app: Flask, runner) -> None:
    first = runner.invoke(args=["setup", "--print-password"])  # `make run`, on a laptop's terminal
    assert "password:" in first.output
    second = runner.invoke(args=["setup", "--print-password"])
    assert "password:" not in second.output
    seeded = runner.invoke(args=["seed-demo", "--password", "demo password 1"])
    assert seeded.exit_code == 0, seeded.output
    users = users_in(app)
    assert users["viewer@example.com"][0] == ["viewer"] and users["operator@example.com"][0] == ["operator"]


def test_cli_changes_are_audited_as_system_actor(app: Flask, runner) -> None:
    runner.invoke(args=["users", "create", "c@example.com", "--role", "viewer", "--password", "a long enough pw"])
    with app.app_context():
        actors = [t.actor for t in db.session.scalars(sa.select(Transaction))]
    assert "system:cli" in actors


def admins_in(app: Flask) -> list[str]:
    return [email for email, (roles, _active) in users_in(app).items() if "admin" in roles]


def test_setup_without_a_configured_password_prints_none_and_creates_no_admin(app: Flask, runner) -> None:
    result = runner.invoke(args=["setup"])  # what the Docker image runs
    assert result.exit_code == 0, result.output
    assert "password:" not in result.output
    assert "CONSOLE_ADMIN_PASSWORD_FILE" in result.output and "users create" in result.output
    assert admins_in(app) == []


def test_setup_takes_the_first_admin_from_a_mounted_secret_file(app_factory, tmp_path, client) -> None:
    secret = tmp_path / "console_admin_password"
    secret.write_text("from a mounted secret\n", encoding="utf-8")
    app = app_factory(ADMIN_EMAIL="ops@example.com", ADMIN_PASSWORD_FILE=str(secret))
    result = app.test_cli_runner().invoke(args=["setup"])
    assert result.exit_code == 0, result.output
    assert "from a mounted secret" not in result.output
    assert admins_in(app) == ["ops@example.com"]
    assert Auth(app, app.test_client()).login("ops@example.com", "from a mounted secret").status_code == 302


def test_setup_takes_the_password_from_the_variable_and_never_prints_it(app_factory) -> None:
    app = app_factory(ADMIN_PASSWORD="from the environment")
    result = app.test_cli_runner().invoke(args=["setup"])
    assert result.exit_code == 0, result.output
    assert "from the environment" not in result.output
    assert Auth(app, app.test_client()).login("admin@example.com", "from the environment").status_code == 302


def test_the_admin_settings_come_from_console_variables(app: Flask) -> None:
    from console.config import apply_environment

    apply_environment(app, {"CONSOLE_ADMIN_EMAIL": "ops@example.com", "CONSOLE_ADMIN_PASSWORD_FILE": "/run/s"})
    assert (app.config["ADMIN_EMAIL"], app.config["ADMIN_PASSWORD_FILE"]) == ("ops@example.com", "/run/s")


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "cannot read"), ("", "is empty"), ("short\n", "Password rejected")],
    ids=["missing", "empty", "weak"],
)
def test_a_bad_password_file_stops_setup_with_a_message(app_factory, tmp_path, content, message) -> None:
    secret = tmp_path / "console_admin_password"
    if content is not None:
        secret.write_text(content, encoding="utf-8")
    app = app_factory(ADMIN_PASSWORD_FILE=str(secret))
    result = app.test_cli_runner().invoke(args=["setup"])
    assert result.exit_code == 1
    assert message in result.output
    assert admins_in(app) == []
