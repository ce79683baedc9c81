"""Walk every route for anonymous, viewer, operator and admin and hold it to the policy table."""

from __future__ import annotations

import pytest
from flask import Flask
from werkzeug.routing import Rule

from console.security import policy

ROLES = [policy.VIEWER, policy.OPERATOR, policy.ADMIN]
SAMPLE_ARGS = {"int": 999999, "string": "no-such-thing", "path": "no/such/thing", "default": "x"}


def build_url(app: Flask, rule: Rule) -> str:
    values = {}
    for arg in rule.arguments:
        converter = type(rule._converters[arg]).__name__.lower()
        values[arg] = SAMPLE_ARGS["int"] if "integer" in converter else SAMPLE_ARGS["string"]
    with app.test_request_context():
        from flask import url_for

        return url_for(rule.endpoint, **values)


def routes(app: Flask) -> list[tuple[Rule, str]]:
    out = []
    for rule in app.url_map.iter_rules():
        method = "GET" if "GET" in rule.methods else "POST"
        out.append((rule, method))
    return out


def test_every_route_is_in_the_policy(app: Flask) -> None:
    missing = sorted({rule.endpoint for rule in app.url_map.iter_rules()} - set(policy.POLICY))
    assert missing == [], f"routes missing from console.security.policy.POLICY: {missing}"


def test_policy_names_no_route_that_does_not_exist(app: Flask) -> None:
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    stale = sorted(set(policy.POLICY) - endpoints)
    assert stale == []


@pytest.mark.parametrize("role", [None, *ROLES])
def test_role_endpoint_matrix(app_factory, role: str | None) -> None:
    app = app_factory(WTF_CSRF_ENABLED=False)
    client = app.test_client()
    if role:
        from tests.conftest import Auth

        Auth(app, client)(role)
    failures = []
    for rule, method in routes(app):
        if rule.endpoint in {"security.logout"}:
            continue  # would end the session under test; covered by test_sign_out
        required = policy.POLICY[rule.endpoint]
        url = build_url(app, rule)
        response = client.open(url, method=method)
        allowed = required == policy.PUBLIC or (role is not None and policy.RANK[role] >= policy.RANK[required])
        status = response.status_code
        location = response.headers.get("Location", "")
        if allowed:
            ok = status != 403 and "/login" not in location
            if required != policy.PUBLIC and role is not None:
                ok = ok and status < 500
        elif role is None:  # anonymous: JSON callers get 401, everyone else is sent to sign in
            ok = status == 401 if url.endswith(".json") else (status == 302 and "/login" in location)
        else:
            ok = status == 403
        if not ok:
            failures.append(f"{method} {url} ({rule.endpoint}, needs {required}) -> {status} {location}")
    assert failures == [], "\n".join(failures)


def test_unknown_endpoint_is_refused_by_default(app: Flask) -> None:
    assert policy.required_role("made.up") is None
    assert not policy.allows(None, "made.up")


def test_actions_are_checked_against_the_policy(app: Flask) -> None:
    class FakeRole:
        def __init__(self, name: str) -> None:
            self.name = name

    class FakeUser:
        is_authenticated = True
        active = True

        def __init__(self, role: str) -> None:
            self.roles = [FakeRole(role)]

    assert policy.allows_action(FakeUser("admin"), "users", "deactivate")
    assert not policy.allows_action(FakeUser("operator"), "users", "deactivate")
    assert not policy.allows_action(FakeUser("admin"), "users", "not-in-policy")
