"""Every enabled server's DAG import errors in one list: the files Airflow could not import, with
the server, when it last tried, and the whole error.

Each server is asked ``GET /importErrors`` in pages of 100 (ordered by file name) through the read
cache (kind ``import_errors``); a server that is down or slow is a
:class:`~console.services.server_clients.ServerFailure` beside the others' errors.  The filters
(server, text in the file name or the error) apply to what the servers answered.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from console.airflow.registry import enabled_servers
from console.services.dag_list import cached_fan_out
from console.services.server_clients import ServerFailure

if TYPE_CHECKING:
    from console.airflow.client import DagImportError

#: The longest text filter accepted.
MAX_TEXT = 200
#: An error longer than this many lines is shown folded, its last line (the exception) first.
FOLD_LINES = 12


class BadImportErrorQuery(ValueError):
    """A filter the list cannot use; the message says which and why."""


@dataclass(frozen=True)
class ImportErrorQuery:
    """The list's filters: a server name (empty: all) and a case-insensitive text."""

    server: str = ""
    text: str = ""

    @classmethod
    def from_args(cls, args: Mapping[str, str], servers: list[str]) -> ImportErrorQuery:
        server = (args.get("server") or "").strip()
        if server and server not in servers:
            raise BadImportErrorQuery(f"There is no enabled Airflow server named {server[:100]!r}.")
        text = (args.get("q") or "").strip()
        if len(text) > MAX_TEXT:
            raise BadImportErrorQuery(f"The text filter is longer than {MAX_TEXT} characters.")
        return cls(server, text)

    def matches(self, row: ImportErrorRow) -> bool:
        if self.server and row.server_name != self.server:
            return False
        needle = self.text.lower()
        return not needle or needle in row.error.filename.lower() or needle in (row.error.stack_trace or "").lower()


@dataclass(frozen=True)
class ImportErrorRow:
    server_id: int
    server_name: str
    error: DagImportError

    @property
    def lines(self) -> list[str]:
        return (self.error.stack_trace or "").rstrip().splitlines()

    @property
    def folded(self) -> bool:
        """Whether the error is long enough to be shown folded."""
        return len(self.lines) > FOLD_LINES

    @property
    def summary(self) -> str:
        """The error's last non-empty line: usually the exception and its message."""
        return next((line.strip() for line in reversed(self.lines) if line.strip()), "")


@dataclass
class ImportErrorListing:
    """What the page shows: the matching rows (by server, then file), how many each server has,
    and the servers that did not answer."""

    query: ImportErrorQuery
    rows: list[ImportErrorRow] = field(default_factory=list)
    failures: list[ServerFailure] = field(default_factory=list)
    servers: list[str] = field(default_factory=list)
    per_server: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.per_server.values())


def server_names() -> list[str]:
    return [s.name for s in enabled_servers()]


def list_import_errors(query: ImportErrorQuery) -> ImportErrorListing:
    """Every import error of the enabled servers (of ``query.server`` only, when set) matching
    ``query``."""
    every = enabled_servers()
    servers = [s for s in every if not query.server or s.name == query.server]
    answers = cached_fan_out(
        servers, "all", lambda _sid, _name, client: client.list_import_errors, kind="import_errors"
    )
    listing = ImportErrorListing(query=query, servers=[s.name for s in every])
    for server in servers:
        answer = answers[server.id]
        if isinstance(answer, ServerFailure):
            listing.failures.append(answer)
            continue
        listing.per_server[server.name] = len(answer)
        rows = [ImportErrorRow(server.id, server.name, error) for error in answer]
        listing.rows += [row for row in rows if query.matches(row)]
    return listing
