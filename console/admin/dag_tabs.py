"""The tabs of a DAG's page: Grid (the default), Graph, Code, Details and Runs (the Backfills tab is
:mod:`console.admin.dag_backfills`).

A part of :class:`~console.admin.dags.DagsView` (mixed in, so the endpoints are ``dags.detail``,
``dags.graph``, ...).  Thin: each tab is one call into its service
(:mod:`console.services.dag_grid`, :mod:`~console.services.dag_graph`,
:mod:`~console.services.dag_tabs`, :mod:`~console.services.dags`); a DAG Airflow does not have
is the friendly 404 page, an argument that does not parse a 400 with a message.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import Response, request
from flask_admin import expose

from console.admin.source_code import highlighted
from console.models.states import DagRunState, DagRunType
from console.services import dag_graph, dag_grid, dag_tabs, dags
from console.services.dag_grid import RUN_CHOICES
from console.services.dag_tabs import RUNS_PER_PAGE

DAG = "/<int:server_id>/<airflow_key:dag_id>"

#: The tabs, in order: (endpoint, label, test id).
TABS = (
    ("detail", "Grid", "tab-grid"),
    ("graph", "Graph", "tab-graph"),
    ("code", "Code", "tab-code"),
    ("details", "Details", "tab-details"),
    ("run_list", "Runs", "tab-runs"),
    ("backfills", "Backfills", "tab-backfills"),
)


class DagTabsMixin:
    """The DAG page's tabs; every one is read-only (viewers see them all)."""

    if TYPE_CHECKING:

        def render(self, template: str, **kwargs: Any) -> Any: ...
        def _or_404(self, load: Any) -> Any: ...
        def _not_found(self, server_name: str, message: str, status: int = 404) -> Response: ...

    def _tab(self, template: str, tab: str, page: Any, status: int = 200, **kwargs: Any) -> Any:
        if isinstance(page, Response):
            return page
        if page.not_found:
            return self._not_found(
                page.server.name, f"DAG {page.dag_id!r} does not exist on server {page.server.name!r}."
            )
        others = dags.other_server_failures(page.server.id)
        html = self.render(template, page=page, tab=tab, tabs=TABS, others=others, **kwargs)
        return html if status == 200 else (html, status)

    @expose(DAG + "/")
    def detail(self, server_id: int, dag_id: str) -> Any:
        """The grid: ``?runs=`` one of :data:`~console.services.dag_grid.RUN_CHOICES`."""
        raw = request.args.get("runs", "")
        requested = int(raw) if raw.isdigit() and int(raw) in RUN_CHOICES else None
        page = self._or_404(lambda: dag_grid.load_grid(server_id, dag_id, requested or RUN_CHOICES[0]))
        choices = ", ".join(map(str, RUN_CHOICES))
        error = None if not raw or requested else f"Runs {raw[:20]!r}: choose one of {choices}."
        return self._tab(
            "admin/dags/grid.html",
            "detail",
            page,
            400 if error else 200,
            run_choices=RUN_CHOICES,
            max_cells=dag_grid.MAX_TASK_INSTANCES,
            error=error,
        )

    @expose(DAG + "/graph")
    def graph(self, server_id: int, dag_id: str) -> Any:
        """The graph coloured by run ``?run=`` (default: the newest)."""
        page = self._or_404(lambda: dag_graph.load_graph(server_id, dag_id, request.args.get("run") or None))
        return self._tab("admin/dags/graph.html", "graph", page)

    @expose(DAG + "/code")
    def code(self, server_id: int, dag_id: str) -> Any:
        page = self._or_404(lambda: dag_tabs.load_code(server_id, dag_id))
        content = getattr(getattr(page, "source", None), "content", None)
        return self._tab("admin/dags/code.html", "code", page, code=highlighted(content) if content else None)

    @expose(DAG + "/details")
    def details(self, server_id: int, dag_id: str) -> Any:
        """What the DAG page showed before it had tabs: facts, docs, recent runs, one run's tasks."""
        page = self._or_404(lambda: dags.load_dag(server_id, dag_id, request.args.get("run") or None))
        return self._tab("admin/dags/detail.html", "details", page)

    @expose(DAG + "/runs/")
    def run_list(self, server_id: int, dag_id: str) -> Any:
        """Runs filtered by ``state``, ``run_type``, ``from``/``to`` (dates) and paged by ``page``."""
        page = self._or_404(lambda: dag_tabs.load_runs(server_id, dag_id, request.args))
        status = 400 if getattr(page, "errors", None) else 200
        return self._tab(
            "admin/dags/runs.html",
            "run_list",
            page,
            status,
            states=list(DagRunState),
            run_types=list(DagRunType),
            per_page=RUNS_PER_PAGE,
        )
