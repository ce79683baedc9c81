"""Run a real local Apache Airflow ("sandbox") for development and tests.

The sandbox is ``airflow standalone`` (scheduler, dag-processor, triggerer and api-server on
SQLite with the LocalExecutor) installed into its own virtualenv under ``settings.root/"venv"``
and run with ``AIRFLOW_HOME`` at ``settings.root/f"home-{port}"``.  Airflow is never installed
into the console's own environment.

A development tool: ``manage.py airflow-sandbox`` (:mod:`console.cli.sandbox`), the tests and
the benchmarks use it; the web app, its services and the scheduler never import it.

Modules, by job: :mod:`~.settings` (paths, environment), :mod:`~.install` (the virtualenv),
:mod:`~.process` (the standalone and its processes), :mod:`~.health` (health, DAGs, password),
:mod:`~.runner` (``start``/``stop``/``status``).
"""

from __future__ import annotations

from console.airflow.sandbox.health import api_client, read_password
from console.airflow.sandbox.install import ensure_installed
from console.airflow.sandbox.runner import SandboxStatus, start, status, stop
from console.airflow.sandbox.settings import SandboxError, SandboxSettings, airflow_env

__all__ = [
    "SandboxError",
    "SandboxSettings",
    "SandboxStatus",
    "airflow_env",
    "api_client",
    "ensure_installed",
    "read_password",
    "start",
    "status",
    "stop",
]
