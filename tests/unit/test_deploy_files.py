"""The deployment files, checked without a container engine.

The Dockerfile is parsed (dockerfile-parse) and held to its promises; the wheel the builder
stage makes is built for real and its file list checked; the entry point runs under bash
with the project's own commands; compose, nginx, systemd and the Grafana dashboard are
read and compared with what the console really has.
"""

from __future__ import annotations

import json
import os
import re
import runpy
import shlex
import subprocess
import sys
import zipfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml
from dockerfile_parse import DockerfileParser

from tests.conftest import ROOT

DEPLOY = ROOT / "deploy"
ENTRYPOINT = DEPLOY / "entrypoint.sh"
BIN = Path(sys.executable).parent
COMPILERS = re.compile(r"\b(build-essential|gcc|g\+\+|clang|make|libpq-dev|python3?-dev)\b")
SECRET = "entrypoint-test-secret-0123456789abcdef0123456789"


def stages() -> list[list[dict[str, Any]]]:
    """The Dockerfile's instructions, one list per ``FROM`` stage."""
    with open(ROOT / "Dockerfile", "rb") as f:
        structure = DockerfileParser(fileobj=f).structure
    out: list[list[dict[str, Any]]] = []
    for instruction in structure:
        if instruction["instruction"] == "FROM":
            out.append([])
        if out and instruction["instruction"] != "COMMENT":
            out[-1].append(instruction)
    return out


def entrypoint(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {"PATH": f"{BIN}:/usr/bin:/bin", "CONSOLE_HOME": str(ROOT), "PYTHON": sys.executable, "HOME": "/tmp"}
    return subprocess.run(
        ["bash", str(ENTRYPOINT), *args], env={**base, **(env or {})}, capture_output=True, text=True, timeout=300
    )


def test_the_image_is_built_in_two_stages() -> None:
    builder, runtime = stages()
    assert builder[0]["value"].startswith("python:3.11-slim AS builder")
    assert runtime[0]["value"].startswith("python:3.11-slim AS runtime")
    assert any("pip wheel" in i["value"] for i in builder if i["instruction"] == "RUN")
    assert any(i["instruction"] == "COPY" and i["value"].startswith("--from=builder /wheels") for i in runtime)
    assert any("--no-index" in i["value"] for i in runtime if i["instruction"] == "RUN")


def test_the_runtime_stage_has_no_compiler_and_runs_as_a_user() -> None:
    runtime = stages()[-1]
    runs = " ".join(i["value"] for i in runtime if i["instruction"] == "RUN")
    assert not COMPILERS.search(runs), runs
    assert "apt-get" not in runs
    users = [i["value"] for i in runtime if i["instruction"] == "USER"]
    assert users and users[-1] not in {"root", "0", "0:0"}
    assert f"--user-group {users[-1]}" in runs
    assert [i["value"] for i in runtime if i["instruction"] == "ENTRYPOINT"] == ['["/app/deploy/entrypoint.sh"]']
    assert [i["value"] for i in runtime if i["instruction"] == "CMD"] == ['["web"]']


def test_every_copied_file_exists_and_is_not_ignored() -> None:
    ignored = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines() if line.strip()]
    copies = [i["value"] for stage in stages() for i in stage if i["instruction"] in ("COPY", "ADD")]
    assert copies
    for copy in copies:
        parts = shlex.split(copy)
        if parts[0].startswith("--from="):
            continue
        for source in parts[:-1]:
            assert (ROOT / source).exists(), f"COPY {source}: no such file in the repository"
            assert source.split("/")[0] not in ignored, f"COPY {source}: excluded by .dockerignore"


def test_the_wheel_holds_what_the_runtime_needs(tmp_path: Path) -> None:
    """The builder stage for real, without an engine: its COPY sources into a folder, then its
    ``pip wheel``; templates, static files and migrations must be in the console's wheel (the
    runtime installs nothing else of the project)."""
    import shutil

    src = tmp_path / "src"
    src.mkdir()
    for copy in [i["value"] for i in stages()[0] if i["instruction"] == "COPY"]:
        *sources, dest = shlex.split(copy)
        for source in sources:
            target = src / dest / Path(source).name if dest.endswith("/") else src / dest
            if (ROOT / source).is_dir():
                shutil.copytree(ROOT / source, target, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy(ROOT / source, target)
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(src)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    (wheel,) = tmp_path.glob("airflow_console-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in (
        "console/__init__.py",
        "console/migrations/env.py",
        "console/migrations/alembic.ini",
        "console/templates/error.html",
        "console/static/vendor/chart.js/chart.umd.min.js",
        "console/observability/endpoint.py",
    ):
        assert needed in names, needed
    assert any(n.startswith("console/migrations/versions/") and n.endswith(".py") for n in names)
    assert not any(n.startswith("tests/") for n in names)


def manage_commands_in(text: str) -> set[str]:
    return set(re.findall(r"manage\.py\s+((?:db\s+)?[a-z][a-z-]*)", text))


def test_the_entrypoint_runs_real_commands() -> None:
    commands = manage_commands_in(ENTRYPOINT.read_text())
    assert commands == {"scheduler", "worker", "db upgrade", "setup"}
    for command in sorted(commands):
        done = subprocess.run(
            [sys.executable, "manage.py", *command.split(), "--help"],
            cwd=ROOT,
            env={**os.environ, "CONSOLE_SECRET_KEY": SECRET},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0 and "Usage:" in done.stdout, (command, done.stderr[-1000:])


@pytest.mark.parametrize("role", ["web", "scheduler", "worker", "migrate"])
def test_the_entrypoint_refuses_to_start_without_a_secret_key(role: str) -> None:
    done = entrypoint(role, env={"CONSOLE_DATABASE_URL": "postgresql+psycopg://c@db/c"})
    assert done.returncode == 64
    assert "CONSOLE_SECRET_KEY is not set" in done.stderr


@pytest.mark.parametrize("role", ["web", "scheduler", "worker", "migrate"])
def test_the_entrypoint_refuses_to_start_without_a_database_url(role: str) -> None:
    done = entrypoint(role, env={"CONSOLE_SECRET_KEY": SECRET})
    assert done.returncode == 64
    assert "CONSOLE_DATABASE_URL is not set" in done.stderr


def test_the_entrypoint_reads_a_secret_key_file(tmp_path: Path) -> None:
    done = entrypoint("worker", env={"CONSOLE_SECRET_KEY_FILE": str(tmp_path / "missing")})
    assert done.returncode == 64 and "cannot be read" in done.stderr
    (tmp_path / "key").write_text(SECRET)
    database = f"sqlite:///{tmp_path / 'console.db'}"
    done = entrypoint(
        "scheduler", "--help", env={"CONSOLE_SECRET_KEY_FILE": str(tmp_path / "key"), "CONSOLE_DATABASE_URL": database}
    )
    assert done.returncode == 0 and "Run the task scheduler" in done.stdout, done.stderr[-1000:]


def test_the_entrypoint_migrates_and_the_web_role_loads_the_app(tmp_path: Path) -> None:
    env = {"CONSOLE_SECRET_KEY": SECRET, "CONSOLE_DATABASE_URL": f"sqlite:///{tmp_path / 'console.db'}"}
    for _ in range(2):  # idempotent
        done = entrypoint("migrate", env=env)
        assert done.returncode == 0, done.stderr[-2000:]
    assert "No admin account exists" in done.stdout
    import sqlite3

    with sqlite3.connect(tmp_path / "console.db") as conn:
        (version,) = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    assert version
    # gunicorn with deploy/gunicorn.conf.py loads console:create_app() and exits.
    done = entrypoint("web", "--check-config", env={**env, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prom")})
    assert done.returncode == 0, done.stderr[-2000:]


def test_gunicorn_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    monkeypatch.setenv("GUNICORN_WORKERS", "3")
    conf = runpy.run_path(str(DEPLOY / "gunicorn.conf.py"))
    assert conf["workers"] == 3
    assert conf["default_workers"](1) == 3 and conf["default_workers"](2) == 5 and conf["default_workers"](16) == 12
    assert conf["accesslog"] == "-" and conf["graceful_timeout"] > 0 and conf["timeout"] > 60
    assert conf["wsgi_app"] == "console:create_app()"
    # A dead worker's live gauges are dropped; files of a previous run are emptied at start.
    (tmp_path / "gauge_livesum_4242.db").write_bytes(b"")
    (tmp_path / "counter_4242.db").write_bytes(b"")
    conf["child_exit"](None, SimpleNamespace(pid=4242))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["counter_4242.db"]
    conf["on_starting"](None)
    assert list(tmp_path.iterdir()) == []


def test_make_run_uses_the_gunicorn_settings() -> None:
    assert "gunicorn --config deploy/gunicorn.conf.py" in (ROOT / "scripts" / "run.sh").read_text()


def compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "compose.yml").read_text())


def test_compose_has_every_service() -> None:
    services = compose()["services"]
    for name in ("nginx", "web", "scheduler", "worker", "migrate", "postgres", "redis"):
        assert name in services, name
    for name in ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-postgres"):
        assert services[name]["image"] == "apache/airflow:3.3.2" or name == "airflow-postgres"
    assert services["airflow-apiserver"]["command"] == ["api-server"]
    assert services["airflow-dag-processor"]["command"] == ["dag-processor"]
    assert services["web"]["deploy"]["replicas"] == 2
    assert services["scheduler"]["deploy"]["replicas"] == 2
    for role in ("web", "scheduler", "worker", "migrate"):
        assert services[role]["command"] == [role]
        env = services[role]["environment"]
        assert (
            env["CONSOLE_DATABASE_URL"].startswith("postgresql+psycopg://")
            and "@postgres:5432/" in env["CONSOLE_DATABASE_URL"]
        )
        assert env["CONSOLE_REDIS_URL"].startswith("redis://redis:")
        assert env["CONSOLE_TRUSTED_PROXY_COUNT"] == "1"
    for role in ("web", "scheduler", "worker"):
        assert services[role]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_compose_mounts_files_that_exist() -> None:
    for service in compose()["services"].values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists() or source == "./tls", source
    assert compose()["x-console"]["build"]["context"] == ".."


def test_nginx_matches_the_console() -> None:
    conf = (DEPLOY / "nginx" / "console.conf").read_text()
    for header in ("X-Forwarded-For $proxy_add_x_forwarded_for", "X-Forwarded-Proto $scheme", "X-Forwarded-Host $host"):
        assert f"proxy_set_header {header};" in conf
    assert "ssl_certificate " in conf and "listen 443 ssl" in conf
    static = re.search(r"location /static/ \{\s*alias (\S+);", conf)
    assert static is not None
    nginx = compose()["services"]["nginx"]
    assert any(v.split(":")[1].rstrip("/") == static.group(1).rstrip("/") for v in nginx["volumes"])
    assert "Cache-Control" in conf and "expires" in conf
    assert "server web:8000" in conf


def test_systemd_units_run_real_commands() -> None:
    units = {p.name: p.read_text() for p in (DEPLOY / "systemd").glob("*.service")}
    assert set(units) == {f"airflow-console-{r}.service" for r in ("web", "scheduler", "worker", "migrate")}
    assert "gunicorn --config deploy/gunicorn.conf.py" in units["airflow-console-web.service"]
    assert "Type=oneshot" in units["airflow-console-migrate.service"]
    commands = set().union(*(manage_commands_in(text) for text in units.values()))
    assert commands == {"scheduler", "worker", "db upgrade", "setup"}
    for name, text in units.items():
        if name != "airflow-console-migrate.service":
            assert "Requires=airflow-console-migrate.service" in text, name


def test_the_dashboard_queries_metrics_that_exist(app_factory: Any) -> None:
    from console.metrics import RECORDED
    from console.observability.collectors import NAMES

    suffixes = ("", "_total", "_bucket", "_sum", "_count")
    known = {m._name + s for m in RECORDED for s in suffixes} | set(NAMES)  # type: ignore[attr-defined]
    dashboard = json.loads((DEPLOY / "grafana-dashboard.json").read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    used = {name for expr in exprs for name in re.findall(r"\bconsole_[a-z_]+", expr)}
    assert used and used <= known, sorted(used - known)
    assert {m._name for m in RECORDED} | set(NAMES) <= {re.sub(r"_(total|bucket|sum|count)$", "", n) for n in used}
    # ... and the console's /metrics shows each of them.
    app = app_factory(METRICS_ALLOWED_ADDRESSES=["10.9.0.0/16"])
    body = app.test_client().get("/metrics", environ_base={"REMOTE_ADDR": "10.9.0.1"}).get_data(as_text=True)
    shown = {re.sub(r"_total$", "", n) for n in re.findall(r"^# TYPE (\S+)", body, re.M)}
    assert {m._name for m in RECORDED} | set(NAMES) <= shown
