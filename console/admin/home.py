"""The admin home: the on-call dashboard across servers (``services/dashboard.py``), and the
fragment the open page fetches to refresh itself."""

from __future__ import annotations

from typing import Any

from flask import url_for
from flask_admin import expose
from flask_login import current_user

from console.admin.base import SecureIndexView
from console.security import policy
from console.services import dashboard, run_list

FRAGMENT = "admin/_dashboard_board.html"


def _link(target: dict[str, Any]) -> str:
    """The list behind a chart element: a DAG's runs (of a state, for the failing DAGs), or the
    Runs list of a state over the element's time range."""
    if "dag_id" in target:
        state = {"state": target["state"]} if target.get("state") else {}
        return url_for("dags.run_list", server_id=target["server_id"], dag_id=target["dag_id"], **state)
    span = {k: target[k] for k in ("from", "to") if target.get(k)}
    return url_for("runs.index", state=target.get("state", ""), **span)


def _with_links(charts: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out = {}
    for name, chart in charts.items():
        datasets = []
        for data in chart["datasets"]:
            data = dict(data)
            if "target" in data:
                data["link"] = _link(data.pop("target"))
            if "targets" in data:
                data["links"] = [_link(t) for t in data.pop("targets")]
            datasets.append(data)
        out[name] = {**chart, "datasets": datasets}
    return out


def _last_day(state: str) -> str:
    args: dict[str, Any] = run_list.last_day_args(state)
    return url_for("runs.index", **args)


def _board() -> dict[str, Any]:
    """The board, its charts' links, and the Runs list of each state over the last 24 h (the
    span the board counts), which its 24 h counts lead to."""
    board = dashboard.build()
    last_day = {s.value: _last_day(s.value) for s in dashboard.RUN_STATES}
    return {"board": board, "charts": _with_links(board.charts), "runs_24h_links": last_day}


class HomeView(SecureIndexView):
    @expose("/")
    def index(self) -> str:
        return self.render(
            "admin/console_home.html",
            roles=current_user.role_names,
            role_descriptions=policy.ROLES,
            **_board(),
        )

    @expose("/board")
    def board(self) -> str:
        """The dashboard's body alone, for the page's periodic refresh."""
        return self.render(FRAGMENT, **_board())
