"""The console as gunicorn serves it, plus an ``X-Worker-Pid`` header naming the worker process
that answered (tests only: the multi-process test checks that its requests reach every worker)."""

from __future__ import annotations

import os

from flask import Response

from console import create_app

app = create_app()


@app.after_request
def name_the_worker(response: Response) -> Response:
    response.headers["X-Worker-Pid"] = str(os.getpid())
    return response
