"""The Runs screen: every DAG run of every enabled server in one list, newest first.

Thin: the query is read and checked by :class:`~console.services.run_list.RunQuery` (a bad value
is a 400 with the reason, and Airflow is not asked) and the page is built by
:func:`~console.services.run_list.list_runs`.  Viewers may read it (``runs.*`` in
``console.security.policy``).
"""

from __future__ import annotations

from typing import Any

from flask import request
from flask_admin import expose

from console.admin import dag_display
from console.admin.base import SecureBaseView
from console.services import run_list


class RunsView(SecureBaseView):
    """``/admin/runs``: the merged list of DAG runs across servers."""

    @expose("/")
    def index(self) -> Any:
        names = run_list.server_names()
        common = {
            "fmt": dag_display,
            "servers": names,
            "states": run_list.STATES,
            "run_types": run_list.RUN_TYPES,
            "per_page_choices": run_list.PER_PAGE_CHOICES,
            "failed_last_day": run_list.last_day_args("failed"),
        }
        try:
            query = run_list.RunQuery.from_args(request.args, names)
        except run_list.BadRunQuery as exc:
            raw = {k: request.args.get(k, "") for k in ("server", "dag", "state", "run_type", "from", "to")}
            return self.render("admin/runs/list.html", listing=None, error=str(exc), raw=raw, **common), 400
        listing = run_list.list_runs(query)
        raw = {"server": query.server, "dag": query.dag, "state": query.state, "run_type": query.run_type}
        raw |= {"from": query.start_arg, "to": query.end_arg}
        return self.render("admin/runs/list.html", listing=listing, error=None, raw=raw, query=query, **common)
