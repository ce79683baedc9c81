"""The Content-Security-Policy allows inline scripts and styles by nonce only, and the screens need nothing else.

Every page the console renders is checked the way a browser would enforce the
policy: a ``<script>`` or ``<style>`` applies only if it is loaded from our own
origin or carries this response's nonce, and inline event handlers,
``javascript:`` URLs and ``style=`` attributes never apply at all, so none may
be rendered.
"""

from __future__ import annotations

import difflib
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import flask_admin
import pytest
import sqlalchemy as sa
from flask import Flask

import console
from console.extensions import db
from console.models import User
from console.services import servers, tasks
from tests.conftest import Auth, csrf_token

UNREACHABLE = "http://127.0.0.1:9"
NONCE_RE = re.compile(r"'nonce-([A-Za-z0-9_-]{22,})'")
INLINE_SCRIPT_RE = re.compile(r"\son[a-z]+=|javascript:", re.IGNORECASE)
HEADER_COMMENT_RE = re.compile(r"\A\{#.*?#\}\n", re.DOTALL)
FLASK_ADMIN_TEMPLATES = Path(flask_admin.__file__).parent / "templates" / "bootstrap4"
OUR_TEMPLATES = Path(console.__file__).parent / "templates"
COPIED_TEMPLATES = sorted(
    str(path.relative_to(OUR_TEMPLATES))
    for path in OUR_TEMPLATES.rglob("*.html")
    if (FLASK_ADMIN_TEMPLATES / path.relative_to(OUR_TEMPLATES)).exists()
)


class PageMarkup(HTMLParser):
    """The script and style tags, event-handler and style attributes and ``javascript:`` URLs of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict[str, str | None]] = []
        self.styles: list[dict[str, str | None]] = []
        self.handlers: list[str] = []
        self.script_urls: list[str] = []
        self.style_attributes: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script":
            self.scripts.append(dict(attrs))
        if tag == "style":
            self.styles.append(dict(attrs))
        for name, value in attrs:
            if name.startswith("on"):
                self.handlers.append(f"<{tag} {name}={value!r}>")
            if name == "style":
                self.style_attributes.append(f"<{tag} style={value!r}>")
            if value and value.strip().lower().startswith("javascript:"):
                self.script_urls.append(f"<{tag} {name}={value!r}>")


def policy_directives(csp: str) -> dict[str, str]:
    return dict(d.strip().split(" ", 1) for d in csp.split(";") if d.strip())


def screens(app: Flask) -> dict[str, str]:
    """Each screen that must run under the policy, by name: its URL (a server and a task to show)."""
    with app.app_context():
        server = servers.register_server(name="offline", base_url=UNREACHABLE, username="u", secret="p")
        db.session.flush()
        task = tasks.create_task(
            {"name": "nightly", "server_id": server.id, "dag_id": "example", "cron": "0 5 * * *"}, check_dag=False
        )
        server.enabled = False  # tasks keep it; the pages never wait on it
        db.session.commit()
        user_id = db.session.scalar(sa.select(User.id).where(User.email == "admin@example.com"))
        server_id, task_id = server.id, task.id
    return {
        "home": "/admin/",
        "dag list": "/admin/dags/",
        "tasks list": "/admin/tasks/",
        "task create": "/admin/tasks/new/",
        "task edit": f"/admin/tasks/edit/?id={task_id}",
        "task details": f"/admin/tasks/details/?id={task_id}",
        "users list": "/admin/users/",
        "user edit": f"/admin/users/edit/?id={user_id}",
        "servers list": "/admin/servers/",
        "server edit": f"/admin/servers/edit/?id={server_id}",
        "change password": "/change",
    }


def violations(response: Any) -> list[str]:
    """What in this response a browser enforcing a nonce-only script and style policy would refuse or not need."""
    if response.status_code != 200:
        return [f"status {response.status_code}"]
    directives = policy_directives(response.headers["Content-Security-Policy"])
    nonces = NONCE_RE.findall(directives["script-src"])
    if len(nonces) != 1 or directives["script-src"] != f"'self' 'nonce-{nonces[0]}'":
        return [f"script-src {directives['script-src']}"]
    if directives["style-src"] != f"'self' 'nonce-{nonces[0]}'":
        return [f"style-src {directives['style-src']}"]
    markup = PageMarkup()
    markup.feed(response.get_data(as_text=True))
    found = []
    for script in markup.scripts:
        src = script.get("src")
        if src is None and script.get("nonce") != nonces[0]:
            found.append(f"inline script without the nonce {script}")
        if src is not None and (not src.startswith("/") or src.startswith("//")):
            found.append(f"script from another origin {src}")
    found += [f"style without the nonce {style}" for style in markup.styles if style.get("nonce") != nonces[0]]
    return found + markup.handlers + markup.script_urls + markup.style_attributes


def test_sign_in_page_runs_under_a_nonce_only_policy(client) -> None:
    assert violations(client.get("/login")) == []


def test_refused_sign_in_runs_under_a_nonce_only_policy(client) -> None:
    response = client.post(
        "/login", data={"email": "nobody@example.com", "password": "wrong", "csrf_token": csrf_token(client)}
    )
    assert ("fs-error-msg" in response.get_data(as_text=True), violations(response)) == (True, [])


def test_screens_run_under_a_nonce_only_policy(app: Flask, login_as: Auth) -> None:
    client = login_as("admin")
    found = {name: violations(client.get(url)) for name, url in screens(app).items()}
    assert {name: problems for name, problems in found.items() if problems} == {}


def test_every_response_has_its_own_nonce(client) -> None:
    first = NONCE_RE.findall(client.get("/login").headers["Content-Security-Policy"])
    second = NONCE_RE.findall(client.get("/login").headers["Content-Security-Policy"])
    assert first and second and first != second


@pytest.mark.parametrize("name", COPIED_TEMPLATES)
def test_flask_admin_template_copies_differ_only_where_they_dropped_inline_script(name: str) -> None:
    """Our copies of Flask-Admin templates change only lines with inline handlers or ``javascript:``.

    After a Flask-Admin upgrade this fails until the copies are taken afresh.
    """
    theirs = (FLASK_ADMIN_TEMPLATES / name).read_text().splitlines()
    ours = HEADER_COMMENT_RE.sub("", (OUR_TEMPLATES / name).read_text()).splitlines()
    dropped = [line for line in difflib.ndiff(theirs, ours) if line.startswith("- ")]
    assert dropped and all(INLINE_SCRIPT_RE.search(line) for line in dropped), dropped
