"""The Import errors screen: every enabled server's DAG files that fail to import, with the error.

Thin: the query is read and checked by :class:`~console.services.import_errors.ImportErrorQuery`
(a bad value is a 400 with the reason, and Airflow is not asked) and the list built by
:func:`~console.services.import_errors.list_import_errors`.  Viewers may read it
(``import_errors.index`` in ``console.security.policy``).
"""

from __future__ import annotations

from typing import Any

from flask import request
from flask_admin import expose

from console.admin import dag_display
from console.admin.base import SecureBaseView
from console.services import import_errors


class ImportErrorsView(SecureBaseView):
    """``/admin/import-errors``: the merged list of import errors across servers."""

    @expose("/")
    def index(self) -> Any:
        names = import_errors.server_names()
        raw = {"server": request.args.get("server", ""), "q": request.args.get("q", "")}
        common = {"fmt": dag_display, "servers": names, "raw": raw}
        try:
            query = import_errors.ImportErrorQuery.from_args(request.args, names)
        except import_errors.BadImportErrorQuery as exc:
            return self.render("admin/import_errors.html", listing=None, error=str(exc), **common), 400
        listing = import_errors.list_import_errors(query)
        return self.render("admin/import_errors.html", listing=listing, error=None, **common)
