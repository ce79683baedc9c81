"""Process supervision of the sandbox, with a FAKE ``airflow`` executable (no Airflow installed).

The fake standalone starts a "task" in a process group of its own and without
``AIRFLOW_HOME``, as Airflow's task runner may: only the standalone's session ties it to the
sandbox.  The real standalone is covered by ``tests/integration/test_sandbox.py``.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from console.airflow.sandbox import SandboxSettings, airflow_env
from console.airflow.sandbox.process import spawn_standalone, stop_processes
from console.airflow.sandbox.settings import clean_env

# Only a guard against a fake that never writes its task's pid.
GUARD_SECONDS = 30.0

FAKE_AIRFLOW = """\
#!{python}
import os, subprocess, sys, time
env = {{k: v for k, v in os.environ.items() if k != "AIRFLOW_HOME"}}
task = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"], process_group=0, env=env)
with open(os.path.join(os.environ["AIRFLOW_HOME"], "task.pid"), "w") as fh:
    fh.write(str(task.pid))
time.sleep(300)
"""


def running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.fixture
def fake_install(tmp_path: Path) -> Iterator[SandboxSettings]:
    """Settings whose ``airflow`` is the fake; every process it started is stopped afterwards."""
    settings = SandboxSettings(root=tmp_path, dags_folder=tmp_path / "dags", port=28099)
    settings.airflow_bin.parent.mkdir(parents=True)
    settings.airflow_bin.write_text(FAKE_AIRFLOW.format(python=sys.executable))
    settings.airflow_bin.chmod(0o755)
    settings.home.mkdir()
    yield settings
    stop_processes(settings, None)


def task_pid(settings: SandboxSettings) -> int:
    pid_file = settings.home / "task.pid"
    deadline = time.monotonic() + GUARD_SECONDS
    while not pid_file.exists() or not pid_file.read_text():
        if time.monotonic() > deadline:
            pytest.fail("the fake standalone never started its task")
        time.sleep(0.05)
    return int(pid_file.read_text())


def test_fake_airflow_standalone_stop_ends_it_and_its_task_of_another_group(fake_install: SandboxSettings) -> None:
    pid = spawn_standalone(fake_install, {**clean_env(fake_install), **airflow_env(fake_install)})
    task = task_pid(fake_install)
    stop_processes(fake_install, pid)
    assert [p for p in (pid, task) if running(p)] == []


def test_fake_airflow_standalone_left_running_warns_nothing(fake_install: SandboxSettings) -> None:
    """A process that starts a sandbox and exits (``manage.py airflow-sandbox start``) leaves no
    ResourceWarning behind."""
    script = textwrap.dedent(f"""
        from console.airflow.sandbox import SandboxSettings, airflow_env
        from console.airflow.sandbox.process import spawn_standalone
        from console.airflow.sandbox.settings import clean_env
        settings = SandboxSettings(root={str(fake_install.root)!r}, dags_folder={str(fake_install.dags_folder)!r},
                                   port={fake_install.port})
        spawn_standalone(settings, {{**clean_env(settings), **airflow_env(settings)}})
    """)
    done = subprocess.run(
        [sys.executable, "-X", "dev", "-W", "error", "-c", script], capture_output=True, text=True, timeout=60
    )
    assert (done.returncode, done.stderr) == (0, "")


def test_fake_airflow_stop_without_the_pid_ends_the_task_of_another_group(fake_install: SandboxSettings) -> None:
    """``stop`` when the standalone's pid is not known (its starter exited): the task, in a group
    of its own and without ``AIRFLOW_HOME``, is found through the standalone's session."""
    spawn_standalone(fake_install, {**clean_env(fake_install), **airflow_env(fake_install)})
    task = task_pid(fake_install)
    assert stop_processes(fake_install, None) is True
    assert not running(task)
