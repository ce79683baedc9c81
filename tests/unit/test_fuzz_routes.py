"""A property-based sweep over every route, every role and the parameters the console reads.

For each role (and anonymous), hypothesis draws hostile values -- wrong types, huge numbers,
very long strings, right-to-left and zero-width unicode, markup, NUL bytes, deeply nested JSON
-- for the route's path arguments and for a subset of every query and form parameter name the
console reads anywhere (found by scanning the source, so a new parameter is swept without
editing this file), and sends them as a GET query and, where the route takes one, as a POST
form with a valid CSRF token. Every answer must be below 500; an answer that is neither a
redirect nor a success must leave the database as it was (nothing stored half-done).

The one Airflow server points at a closed port: every route meets an Airflow that is down, the
one fault a sweep can hold constant. ``derandomize`` makes CI run the same examples every time;
set ``CONSOLE_FUZZ_EXAMPLES`` (and ``CONSOLE_FUZZ_RANDOM=1``) to sweep further by hand.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.routing import Rule

from console.extensions import db
from console.security import policy
from tests.conftest import Auth, csrf_token

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = int(os.environ.get("CONSOLE_FUZZ_EXAMPLES", "6"))
RANDOM = os.environ.get("CONSOLE_FUZZ_RANDOM") == "1"
#: Tables that record the attempt itself (audit trail, sign-in attempts, versions): they may grow.
RECORD_TABLES = re.compile(r"^(audit_event|login_attempt|transaction|.*_version|worker_heartbeat|scheduler_.*)$")
#: Routes the sweep leaves alone: signing out would end the session under test.
SKIP_ENDPOINTS = {"security.logout", "static", "admin.static", "security.static"}
#: The server every fuzzed request finds: its Airflow is down (nothing listens on port 9).
SERVER = "fuzz"

_PARAM_PATTERNS = [
    re.compile(r"""(?:args|form|values|params|query)\.get(?:list)?\(\s*["']([A-Za-z_][\w]*)["']"""),
    re.compile(r"""^\s+([a-z_][a-z0-9_]*)\s*=\s*(?:wtforms\.|fields\.)?[A-Za-z]*Field\(""", re.M),
    re.compile(r"""name=["']([a-z_][a-z0-9_]*)["']"""),
]


def parameter_names() -> list[str]:
    """Every query/form parameter name the console's code or templates read."""
    names: set[str] = set()
    for path in [*ROOT.joinpath("console").rglob("*.py"), *ROOT.joinpath("console").rglob("*.html")]:
        text = path.read_text(encoding="utf-8")
        for pattern in _PARAM_PATTERNS:
            names.update(pattern.findall(text))
    from console import models  # noqa: F401  (every table, for Flask-Admin's model forms)

    names.update(column.name for table in db.metadata.sorted_tables for column in table.columns)
    names.update(("email", "password", "password_confirm", "new_password", "roles", "secret"))
    names.discard("csrf_token")
    return sorted(names)


PARAMS = parameter_names()


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


HOSTILE = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=20),
    st.sampled_from(
        [
            "",
            "0",
            "-1",
            "9" * 400,
            "1e309",
            "nan",
            "-inf",
            "true",
            "null",
            "<script>alert(1)</script>",
            '"><img src=x onerror=alert(1)>',
            "\u202eevil\u202c",
            "a\u200bb\u200d",
            "nul\x00byte",
            "../../etc/passwd",
            "x" * 20_000,
            "2026-02-30T25:61:00",
            "* * * * * * *",
            "{}",
            '{"a": ' * 50 + "1" + "}" * 50,
            _nested(5000),
            json.dumps({"k" * 200: ["v" * 200] * 50}),
            "%",
            "~",
            "fuzz",
        ]
    ),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
)


def _path_value(converter: str) -> st.SearchStrategy[Any]:
    if "integer" in converter:
        return st.integers(min_value=-1, max_value=2**31)
    return st.one_of(st.just(SERVER), st.text(min_size=1, max_size=30).filter(lambda s: "/" not in s), HOSTILE)


def routes(app: Flask) -> list[Rule]:
    return sorted((r for r in app.url_map.iter_rules() if r.endpoint not in SKIP_ENDPOINTS), key=lambda r: r.rule)


def snapshot(app: Flask) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table that holds state (not the record of attempts)."""
    with app.app_context():
        out: dict[str, list[tuple[Any, ...]]] = {}
        with db.engine.connect() as conn:
            for table in db.metadata.sorted_tables:
                if RECORD_TABLES.match(table.name):
                    continue
                cols = [
                    c
                    for c in table.columns
                    if c.name
                    not in {"last_login_at", "current_login_at", "last_login_ip", "current_login_ip", "login_count"}
                ]
                out[table.name] = sorted(map(tuple, conn.execute(sa.select(*cols))), key=repr)
        return out


def url_for_rule(app: Flask, rule: Rule, values: dict[str, Any]) -> str | None:
    from flask import url_for

    with app.test_request_context():
        try:
            return url_for(rule.endpoint, **values)
        except Exception:  # a value the converter cannot build (e.g. a negative int): not a URL
            return None


def sweep(app: Flask, client: FlaskClient, draw: Callable[..., Any], token: str) -> list[str]:
    failures: list[str] = []
    for rule in routes(app):
        values = {arg: draw(_path_value(type(rule._converters[arg]).__name__.lower())) for arg in rule.arguments}
        url = url_for_rule(app, rule, values)
        if url is None:
            continue
        fields = draw(st.dictionaries(st.sampled_from(PARAMS), HOSTILE, max_size=6))
        methods = sorted(m for m in (rule.methods or set()) if m in {"GET", "POST"})
        for method in methods:
            before = snapshot(app) if method == "POST" else None
            data = dict(fields)
            if method == "POST":
                data["csrf_token"] = token if draw(st.integers(0, 9)) else draw(HOSTILE)
                response = client.post(url, data=data)
            else:
                response = client.get(url, query_string=data)
            status = response.status_code
            if status >= 500:
                failures.append(f"{method} {url} {sorted(fields)} -> {status}")
            elif before is not None and status >= 400 and snapshot(app) != before:
                failures.append(f"{method} {url} {sorted(fields)} -> {status} but the database changed")
    return failures


@pytest.fixture
def fuzz_app(app_factory: Callable[..., Flask]) -> Flask:
    from console.services.servers import register_server

    app = app_factory(WTF_CSRF_ENABLED=True)
    with app.app_context():
        register_server(name=SERVER, base_url="http://127.0.0.1:9", username="admin", secret="fuzz-secret")
        db.session.commit()
    return app


@pytest.mark.parametrize("role", [None, policy.VIEWER, policy.OPERATOR, policy.ADMIN])
def test_hostile_input_on_every_route_never_500s_or_stores_half(fuzz_app: Flask, role: str | None) -> None:
    client = fuzz_app.test_client()
    if role:
        Auth(fuzz_app, client)(role)
    token = csrf_token(client, "/admin/" if role else "/login")

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=not RANDOM,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.data())
    def check(data: st.DataObject) -> None:
        failures = sweep(fuzz_app, client, data.draw, token)
        assert failures == [], "\n".join(failures)

    check()


def test_the_sweep_knows_the_parameters_the_console_reads() -> None:
    # A guard on the scan itself: if it found nothing, the sweep would send empty forms.
    assert {"dag_id", "cron", "q", "state", "conf_json", "server"} <= set(PARAMS)
