"""``python -m tests.crash_mid_job``: the job worker (``manage.py worker``), made to die by SIGKILL
the moment its Nth trigger call to Airflow returns (``CONSOLE_TEST_CRASH_AFTER_TRIGGERS``),
before that item's outcome is recorded: a crash at the worst moment of a bulk trigger.

The job crash test runs it; the production code knows nothing of it.
"""

from __future__ import annotations

import os
import runpy
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from console.airflow.client import AirflowClient

MANAGE = Path(__file__).resolve().parents[1] / "manage.py"
CRASH_AFTER = int(os.environ.get("CONSOLE_TEST_CRASH_AFTER_TRIGGERS", "5"))

real_trigger_dag_run = AirflowClient.trigger_dag_run
calls = 0
lock = threading.Lock()


def trigger_then_crash(self: AirflowClient, *args: Any, **kwargs: Any) -> Any:
    global calls
    result = real_trigger_dag_run(self, *args, **kwargs)
    with lock:
        calls += 1
        if calls >= CRASH_AFTER:
            os.kill(os.getpid(), signal.SIGKILL)
    return result


if __name__ == "__main__":
    AirflowClient.trigger_dag_run = trigger_then_crash  # type: ignore[method-assign]
    sys.argv = [str(MANAGE), "worker", "--workers", "1"]
    runpy.run_path(str(MANAGE), run_name="__main__")
