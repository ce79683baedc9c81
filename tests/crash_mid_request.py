"""``gunicorn tests.crash_mid_request:app``: the console as gunicorn serves it (with the worker pid
header of :mod:`tests.pid_wsgi`), made so that the first web worker to trigger a DAG run dies by
SIGKILL the moment Airflow accepts it, before the console records the outcome.

Only the first trigger of the whole server crashes (``CONSOLE_TEST_CRASH_MARKER`` names a file
created just before): the workers gunicorn starts afterwards trigger normally.  The production code
knows nothing of it.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

from console.airflow.client import AirflowClient
from tests.pid_wsgi import app

__all__ = ["app"]

MARKER = Path(os.environ["CONSOLE_TEST_CRASH_MARKER"])
real_trigger_dag_run = AirflowClient.trigger_dag_run


def trigger_then_die(self: AirflowClient, *args: Any, **kwargs: Any) -> Any:
    result = real_trigger_dag_run(self, *args, **kwargs)
    try:
        MARKER.open("x").close()
    except FileExistsError:
        return result
    os.kill(os.getpid(), signal.SIGKILL)
    raise AssertionError("unreachable")


AirflowClient.trigger_dag_run = trigger_then_die  # type: ignore[method-assign]
