"""Shared fixtures: ``app``, ``client``, ``runner``, ``login_as``, the Airflow sandbox.

The database is real: a SQLite file migrated once per session with the
project's Alembic migrations (PostgreSQL tests use ``pg_app``), emptied after
every test. With ``CONSOLE_TEST_DATABASE=postgres`` (the second pass of ``make test``) every app
the tests build is on a fresh PostgreSQL database of the session and shares Redis
(``CONSOLE_TEST_REDIS_URL``, under a key prefix of the session's own, deleted at the end); that
pass runs only the tests that touch the database (those using ``database_url``), never the
browser ones. The Airflow sandbox is started once per session (or reused if running) and
stopped at the end if the session started it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import jinja2
import jinja2.bccache
import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from console import create_app
from console.extensions import db
from tests.fakes import FakeAirflow, FakeServer

ROOT = Path(__file__).resolve().parents[1]
SANDBOX_PORT = int(os.environ.get("CONSOLE_TEST_SANDBOX_PORT", "28090"))
#: Extra never-running DAGs in the session's sandbox, so that it has more than one API page (100)
#: of DAGs and the call-count tests see a server with many DAGs.
GENERATED_DAGS = 150
# Only a guard against a sandbox that never comes up: a busy machine may take minutes.
SANDBOX_START_TIMEOUT = 600.0
# How long a browser test lets Airflow take to finish a run: a guard against a hang, not a promise
# (a busy machine's sandbox may queue a task for minutes).
RUN_PATIENCE_MS = 600_000
PG_URL = os.environ.get("CONSOLE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("CONSOLE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
#: ``sqlite`` (default) or ``postgres``: the database (and, with PostgreSQL, Redis) of ``app_factory``.
TEST_DATABASE = os.environ.get("CONSOLE_TEST_DATABASE", "sqlite")
if TEST_DATABASE not in ("sqlite", "postgres"):
    raise ValueError(f"CONSOLE_TEST_DATABASE must be sqlite or postgres, not {TEST_DATABASE!r}")
ON_POSTGRES = TEST_DATABASE == "postgres"
PASSWORD = "correct horse battery staple"
CSRF_INPUT_RE = re.compile(r'<input[^>]*name="csrf_token"[^>]*>')
VALUE_RE = re.compile(r'value="([^"]+)"')


class SharedBytecodeCache(jinja2.BytecodeCache):
    """Compiled templates shared by every app the session builds (keyed by name and source checksum).

    Each test builds its own app, and each app's Jinja environment would compile the same
    templates again: most of a screen test's time. Production builds one app per process.
    """

    def __init__(self) -> None:
        self._store: dict[str, bytes] = {}

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        data = self._store.get(bucket.key)
        if data is not None:
            bucket.bytecode_from_string(data)

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        self._store[bucket.key] = bucket.bytecode_to_string()


TEMPLATE_CACHE = SharedBytecodeCache()


def build_app(config: dict[str, Any]) -> Flask:
    """``create_app`` with the session's shared template cache."""
    app = create_app(config)
    app.jinja_env.bytecode_cache = TEMPLATE_CACHE
    return app


def base_config(database_url: str, **overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key-0123456789abcdef0123456789abcdef",
        "SECURITY_PASSWORD_SALT": "test-salt",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SESSION_COOKIE_SECURE": False,
        "REMEMBER_COOKIE_SECURE": False,
        "SECURITY_PASSWORD_HASH_PASSLIB_OPTIONS": {"bcrypt__rounds": 4},
        "CACHE_TYPE": "NullCache",
        "CACHE_NO_NULL_WARNING": True,
        "SCHEDULER_POLL_SECONDS": 0.5,
        # Retries still happen; the tests do not wait between them.
        "AIRFLOW_RETRY_BACKOFF_SECONDS": 0.0,
        # A bulk action's job runs inside the request that starts it; the worker tests turn
        # this off and run `manage.py worker` for real.
        "JOBS_IMMEDIATE": True,
    }
    config.update(overrides)
    return config


def migrate(app: Flask) -> None:
    from flask_migrate import upgrade

    with app.app_context():
        upgrade()


def empty_database(app: Flask) -> None:
    with app.app_context():
        db.session.remove()
        with db.engine.begin() as conn:
            if conn.dialect.name == "postgresql":  # ids start at 1 again, as in a new SQLite file
                names = ", ".join(f'"{table.name}"' for table in db.metadata.sorted_tables)
                conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
                return
            for table in reversed(db.metadata.sorted_tables):
                conn.execute(sa.text(f'DELETE FROM "{table.name}"'))


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'console.db'}"
    migrate(create_app(base_config(url)))
    return url


@contextlib.contextmanager
def fresh_pg_database() -> Iterator[str]:
    """A new PostgreSQL database migrated with Alembic; dropped afterwards."""
    import uuid

    import psycopg

    name = f"console_test_{uuid.uuid4().hex[:10]}"
    server = PG_URL.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = PG_URL.rsplit("/", 1)[0] + "/" + name
    try:
        migrator = create_app(base_config(url))
        migrate(migrator)
        with migrator.app_context():
            db.engine.dispose()
        yield url
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for one test module, migrated with Alembic, dropped afterwards."""
    with fresh_pg_database() as url:
        yield url


@pytest.fixture(scope="session")
def redis_prefix() -> Iterator[str]:
    """The session's own Redis key prefix (PostgreSQL pass); its keys are deleted at the end."""
    import uuid

    import redis

    prefix = f"console-test-{uuid.uuid4().hex[:10]}:"
    yield prefix
    server = redis.Redis.from_url(REDIS_URL)
    keys = list(server.scan_iter(f"{prefix}*"))
    if keys:
        server.delete(*keys)
    server.close()


@pytest.fixture(scope="session")
def database_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """The database of ``app_factory``: the session's SQLite file, or (``CONSOLE_TEST_DATABASE=postgres``)
    a PostgreSQL database of the session's own."""
    if not ON_POSTGRES:
        yield request.getfixturevalue("sqlite_url")
        return
    with fresh_pg_database() as url:
        yield url


def shared_services(prefix: str, overrides: dict[str, Any]) -> dict[str, Any]:
    """On the PostgreSQL pass: Redis for the cache (a key prefix per app) and the job queue,
    unless the test chose its own."""
    import uuid

    extra: dict[str, Any] = {}
    # A test that chose a queue file shares it with worker subprocesses: Redis would take the jobs.
    if not {"REDIS_URL", "CACHE_REDIS_URL", "JOBS_QUEUE_PATH"} & set(overrides):
        extra["REDIS_URL"] = REDIS_URL
    if "CACHE_KEY_PREFIX" not in overrides:
        extra["CACHE_KEY_PREFIX"] = f"{prefix}{uuid.uuid4().hex[:8]}:"
    return extra


@pytest.fixture
def pg_app(pg_url: str) -> Iterator[Flask]:
    """The console on PostgreSQL, emptied after the test."""
    app = build_app(base_config(pg_url))
    yield app
    empty_database(app)
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def app_factory(database_url: str, request: pytest.FixtureRequest) -> Iterator[Callable[..., Flask]]:
    """Build extra apps on the test database (e.g. with other settings)."""
    made: list[Flask] = []
    prefix = request.getfixturevalue("redis_prefix") if ON_POSTGRES else ""

    def make(**overrides: Any) -> Flask:
        if ON_POSTGRES:
            overrides = {**shared_services(prefix, overrides), **overrides}
        made.append(build_app(base_config(database_url, **overrides)))
        return made[-1]

    yield make
    if made:
        empty_database(made[0])
        for app in made:
            with app.app_context():
                db.engine.dispose()


@pytest.fixture
def app(app_factory: Callable[..., Flask]) -> Flask:
    return app_factory()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> Any:
    return app.test_cli_runner()


def csrf_token(client: FlaskClient, path: str = "/login") -> str:
    """A valid CSRF token for ``client``'s session, read from a rendered form."""
    page = client.get(path)
    if not client.application.config["WTF_CSRF_ENABLED"]:
        return ""
    match = CSRF_INPUT_RE.search(page.get_data(as_text=True))
    value = VALUE_RE.search(match.group(0)) if match else None
    assert value, f"no CSRF token on {path} ({page.status_code})"
    return value.group(1)


def make_user(app: Flask, email: str, role: str, password: str = PASSWORD) -> None:
    from console.services import users

    with app.app_context():
        if not db.session.scalars(sa.select(users.User).where(users.User.email == email)).first():
            users.create_user(email, role, password)
            db.session.commit()


class Auth:
    """Sign a test client in as a user of a role."""

    def __init__(self, app: Flask, client: FlaskClient) -> None:
        self.app, self.client = app, client

    def login(self, email: str, password: str = PASSWORD) -> Any:
        token = csrf_token(self.client, "/login")
        return self.client.post("/login", data={"email": email, "password": password, "csrf_token": token})

    def __call__(self, role: str) -> FlaskClient:
        email = f"{role}@example.com"
        make_user(self.app, email, role)
        response = self.login(email)
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return self.client

    def post(self, path: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        """POST with a valid CSRF token (read from the admin home)."""
        payload = dict(data or {})
        payload.setdefault("csrf_token", csrf_token(self.client, "/admin/"))
        return self.client.post(path, data=payload, **kwargs)


@pytest.fixture
def login_as(app: Flask, client: FlaskClient) -> Auth:
    return Auth(app, client)


# --- Fake servers (fault injection, ``tests/fakes.py``) ----------------------------------

FakeT = TypeVar("FakeT", bound=FakeServer)


@pytest.fixture
def fake_airflow() -> Iterator[FakeAirflow]:
    """A running fake Airflow that logs clients in like Airflow; stopped after the test."""
    with FakeAirflow() as fake:
        yield fake


@pytest.fixture
def start_fake() -> Iterator[Callable[[FakeT], FakeT]]:
    """Start fake servers: ``hook = start_fake(FakeServer(Reply(500)))``; all stop after the test."""
    with contextlib.ExitStack() as stack:
        yield stack.enter_context


# --- Airflow sandbox (integration) -------------------------------------------------------


def sandbox_settings() -> Any:
    """The settings of the test session's sandbox (port ``CONSOLE_TEST_SANDBOX_PORT``)."""
    from console.airflow import sandbox

    settings = sandbox.SandboxSettings.in_checkout(ROOT, port=SANDBOX_PORT)
    return dataclasses.replace(settings, generated_dags=GENERATED_DAGS)


@pytest.fixture(scope="session")
def airflow_sandbox() -> Iterator[Any]:
    """A real Airflow 3.3 standalone for the test session.

    Reused when it is already running, and then left running. When the session starts it, the
    session stops it (every process of it) at the end, unless ``CONSOLE_TEST_KEEP_SANDBOX=1``
    asks to keep it for the next run (``scripts/test.sh`` keeps it for its second pass, then stops it).
    """
    from console.airflow import sandbox

    settings = sandbox_settings()
    started_here = not sandbox.status(settings).running
    try:
        yield sandbox.start(settings, timeout=SANDBOX_START_TIMEOUT, log=lambda msg: print(f"[sandbox] {msg}"))
    finally:
        if started_here and os.environ.get("CONSOLE_TEST_KEEP_SANDBOX") != "1":
            # stop() raises if any process of the sandbox is left.
            sandbox.stop(settings, log=lambda msg: print(f"[sandbox] {msg}"))


def sandbox_api(status: Any, name: str = "sandbox-api") -> Any:
    """A client straight to the sandbox (own token cache, a log-sized read timeout), for tests to
    set up and check what the console did."""
    from console.airflow.client import AirflowClient
    from console.airflow.tokens import TokenCache

    return AirflowClient(
        status.base_url,
        username=status.username,
        password=status.password,
        name=name,
        read_timeout=60.0,
        token_cache=TokenCache(),
    )


def wait_until(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.5) -> Any:
    """Poll ``predicate`` until it returns something true, and return that; fail the test after
    ``timeout`` seconds (a guard against a hang, never a promise of speed)."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def wait_for_run(api: Any, dag_id: str, run_id: str, timeout: float = 240.0) -> Any:
    """Poll Airflow until the run finishes (success or failed) and return it; fail the test after
    ``timeout`` seconds."""

    def finished() -> Any:
        run = api.get_dag_run(dag_id, run_id)
        return run if run.state in ("success", "failed") else None

    return wait_until(finished, timeout, f"run {run_id} of {dag_id} to finish", interval=1.0)


@pytest.fixture
def sandbox_server(app: Flask, airflow_sandbox: Any) -> Any:
    """The sandbox registered as an enabled server in the test database."""
    from console.services import servers

    with app.app_context():
        server = servers.register_server(
            name="sandbox",
            base_url=airflow_sandbox.base_url,
            username=airflow_sandbox.username,
            secret=airflow_sandbox.password,
        )
        db.session.commit()
        return server.id


# --- Browser (e2e) -------------------------------------------------------------------------

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = ROOT / "test-results" / "screenshots"


class LiveServer:
    """The console served by werkzeug in a thread, on the test database."""

    def __init__(self, app: Flask) -> None:
        import threading

        from werkzeug.serving import make_server

        self.app = app
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(5)


@pytest.fixture
def live_server(app: Flask) -> Iterator[LiveServer]:
    server = LiveServer(app)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "Chromium is missing: `make test` installs it (apt-get install chromium)"
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(60000)  # a guard: a busy machine renders slowly
    pg = context.new_page()
    yield pg
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        pg.screenshot(path=str(SCREENSHOTS / f"FAILED-{request.node.name}.png"), full_page=True)
    context.close()


def pytest_configure(config: pytest.Config) -> None:
    if ON_POSTGRES:
        # psycopg warns when a pooled connection that a finished test's thread still held is
        # garbage-collected later (sqlite3 says nothing): noise in whichever test runs then.
        for line in (
            "ignore:Exception ignored in.*BaseConnection.__del__:pytest.PytestUnraisableExceptionWarning",
            "ignore:.*psycopg.Connection.*deleted while still open:ResourceWarning",
        ):
            config.addinivalue_line("filterwarnings", line)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The PostgreSQL pass runs only the tests that touch the database, and no browser test nor
    a test of a SQLite-only part (``sqlite_only``: the FTS5 search; PostgreSQL's search has its own)."""
    if not ON_POSTGRES:
        return
    keep, drop = [], []
    for item in items:
        uses_db = "database_url" in getattr(item, "fixturenames", ())
        elsewhere = item.get_closest_marker("e2e") or item.get_closest_marker("sqlite_only")
        (keep if uses_db and elsewhere is None else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: Any) -> Any:
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


def browser_login(page: Any, live_server: LiveServer, role: str) -> str:
    """Create ``<role>@example.com`` and sign in through the form; returns the email."""
    email = f"{role}@example.com"
    make_user(live_server.app, email, role)
    page.goto(f"{live_server.url}/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("[data-testid=sign-in]")
    page.wait_for_url("**/admin/")
    return email


def screenshot(page: Any, name: str) -> None:
    """Save a screenshot for people to look at (test-results/screenshots, docs use them)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
