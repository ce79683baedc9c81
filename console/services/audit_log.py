"""Reading the audit trail: filters, keyset pages, free-text search and streamed exports.

The audit page reads one table, :class:`~console.models.AuditEvent`, newest first. Pages are
cut by id (keyset: ``id < before`` or ``id > after``), never by OFFSET, and nothing counts the
whole table: a page knows only whether there is a newer and an older one.

Free text: on SQLite an FTS5 index (``audit_event_fts``, kept by triggers, migration
``e6f3c9a2d4b3``) matches each word of the search as a token prefix; elsewhere (PostgreSQL)
the words are matched with ``ILIKE`` over the same columns.
A time range becomes an id range first (the id of the first event at or after the time,
through the index on ``at``), so that a range never makes the database sort by time.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from console.extensions import db
from console.models import AUDIT_CATEGORIES, OUTCOMES, AuditEvent
from console.services.audit import masked
from console.services.errors import ServiceError

PAGE_SIZE = 50
#: Rows read per query while an export streams.
EXPORT_BATCH = 2000
FTS_TABLE = "audit_event_fts"
#: The columns the free-text search looks in (the FTS5 index has the same ones).
SEARCHED = (
    "actor",
    "action",
    "object_type",
    "object_id",
    "server_name",
    "dag_id",
    "run_id",
    "task_id",
    "error",
    "detail",
)
#: The columns of an export, in order; ``before``/``after`` with secrets masked.
EXPORTED = (
    "id",
    "at",
    "actor",
    "user_id",
    "remote_addr",
    "category",
    "action",
    "object_type",
    "object_id",
    "server_name",
    "dag_id",
    "run_id",
    "task_id",
    "outcome",
    "error",
    "detail",
    "before",
    "after",
    "transaction_id",
    "reverts_id",
)
_TEXT_LIMIT = 250
_WORD = re.compile(r"[^\W_]", re.UNICODE)
#: The characters of an indexed word (FTS5's unicode61 tokenizer: letters and digits).
_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
#: A search word that begins more indexed words than this is searched as an FTS5 prefix.
PREFIX_TERMS = 64


class BadQuery(ServiceError):
    """A filter or page parameter that cannot be used; the message says which and why."""


@dataclass(frozen=True)
class AuditQuery:
    """The filters of one view of the audit trail; ``user_id`` limits it to one person's actions."""

    actor: str | None = None
    action: str | None = None
    category: str | None = None
    object_type: str | None = None
    object_id: str | None = None
    server: str | None = None
    outcome: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    q: str | None = None
    user_id: int | None = None

    def args(self) -> dict[str, str]:
        """The filters as URL query arguments (for links and the export), without the empty ones."""
        out: dict[str, str] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None or f.name == "user_id":
                continue
            out[f.name] = value.strftime("%Y-%m-%dT%H:%M") if isinstance(value, datetime) else str(value)
        return out

    @property
    def filtered(self) -> bool:
        return bool(self.args())


@dataclass
class Page:
    """One page of events, newest first, and the cursors of its neighbours (None: no such page)."""

    rows: list[AuditEvent]
    newer: int | None
    older: int | None


def parse_query(args: Mapping[str, str], *, user_id: int | None = None) -> AuditQuery:
    """Validate the filter arguments of a request; raise :class:`BadQuery` naming the bad one."""
    values: dict[str, Any] = {"user_id": user_id}
    for name in ("actor", "action", "object_type", "object_id", "server", "q"):
        text = (args.get(name) or "").strip()
        if len(text) > _TEXT_LIMIT:
            raise BadQuery(f"The {name.replace('_', ' ')} filter is longer than {_TEXT_LIMIT} characters.")
        values[name] = text or None
    for name, allowed in (("category", tuple(AUDIT_CATEGORIES)), ("outcome", OUTCOMES)):
        text = (args.get(name) or "").strip()
        if text and text not in allowed:
            raise BadQuery(f"Unknown {name} {text!r}: use one of {', '.join(allowed)}.")
        values[name] = text or None
    for name in ("since", "until"):
        values[name] = _parse_time(name, args.get(name))
    if values["since"] and values["until"] and values["since"] >= values["until"]:
        raise BadQuery("'since' must be earlier than 'until'.")
    if values["q"] is not None and not _WORD.search(values["q"]):
        raise BadQuery("Search for at least one letter or digit.")
    return AuditQuery(**values)


def _parse_time(name: str, raw: str | None) -> datetime | None:
    text = (raw or "").strip()
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BadQuery(f"'{name}' is not a date or time: use YYYY-MM-DD or YYYY-MM-DDTHH:MM (UTC).") from None
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def parse_cursor(args: Mapping[str, str]) -> tuple[int | None, int | None]:
    """The page cursor: (``before``, ``after``) event ids, at most one of them set."""
    out: list[int | None] = []
    for name in ("before", "after"):
        text = (args.get(name) or "").strip()
        if text and not (text.isdigit() and 0 < int(text) < 2**63):
            raise BadQuery(f"'{name}' must be an event number, not {text[:40]!r}.")
        out.append(int(text) if text else None)
    if out[0] and out[1]:
        raise BadQuery("Give 'before' or 'after', not both.")
    return out[0], out[1]


def fts_available() -> bool:
    """Whether the free-text index exists (SQLite with the migration applied)."""
    bind = db.session.get_bind()
    if bind.dialect.name != "sqlite":
        return False
    cache = bind.__dict__.setdefault("_console_audit_fts", {})
    if "ok" not in cache:
        cache["ok"] = sa.inspect(bind).has_table(FTS_TABLE)
    return bool(cache["ok"])


def fts_expression(q: str) -> str:
    """The FTS5 query for ``q``: every word must appear, each as the beginning of a word.

    A plain word becomes the OR of the indexed words it begins (looked up in the index's
    vocabulary; FTS5 walks such an OR lazily, newest first), unless it begins more than
    :data:`PREFIX_TERMS` of them; a word with punctuation (``etl_daily``, ``a@b.c``) becomes a
    phrase whose last part is a prefix.
    """
    parts = []
    for word in q.split():
        tokens = _TOKEN.findall(word.lower())
        if not tokens:
            continue
        if len(tokens) == 1:
            terms = _terms_beginning(tokens[0])
            if 0 < len(terms) <= PREFIX_TERMS:
                parts.append("(" + " OR ".join(f'"{t}"' for t in terms) + ")")
                continue
        parts.append('"' + " ".join(tokens) + '"*')
    return " AND ".join(parts)


def _terms_beginning(prefix: str) -> list[str]:
    rows = db.session.execute(
        sa.text(
            "SELECT term FROM audit_event_fts_vocab WHERE term >= :low AND term < :high ORDER BY term LIMIT :n"
        ).bindparams(low=prefix, high=prefix + "\U0010ffff", n=PREFIX_TERMS + 1)
    )
    return [row[0] for row in rows if '"' not in row[0]]


_FTS = sa.table(FTS_TABLE, sa.column("rowid", sa.Integer))


def _id_bound(at: datetime) -> int:
    """The id of the first event at or after ``at`` (one past the newest if none)."""
    first = db.session.scalar(sa.select(AuditEvent.id).where(AuditEvent.at >= at).order_by(AuditEvent.at).limit(1))
    if first is not None:
        return int(first)
    newest = db.session.scalar(sa.select(sa.func.max(AuditEvent.id)))
    return int(newest or 0) + 1


def _statement(query: AuditQuery, columns: Any) -> tuple[Any, Any]:
    """The filtered SELECT of ``columns`` and the id column to order and cut pages by."""
    stmt = sa.select(*columns) if isinstance(columns, tuple) else sa.select(columns)
    key: Any = AuditEvent.id
    if query.q and fts_available():
        stmt = stmt.join(_FTS, _FTS.c.rowid == AuditEvent.id).where(
            sa.text(f"{FTS_TABLE} MATCH :fts").bindparams(fts=fts_expression(query.q))
        )
        key = _FTS.c.rowid  # FTS5 walks its own rowids newest first and stops at the page
    elif query.q:
        for word in query.q.split():
            escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            like = f"%{escaped}%"
            stmt = stmt.where(sa.or_(*(getattr(AuditEvent, c).ilike(like, escape="\\") for c in SEARCHED)))
    for column, value in (
        (AuditEvent.actor, query.actor),
        (AuditEvent.action, query.action),
        (AuditEvent.category, query.category),
        (AuditEvent.object_type, query.object_type),
        (AuditEvent.object_id, query.object_id),
        (AuditEvent.server_name, query.server),
        (AuditEvent.outcome, query.outcome),
        (AuditEvent.user_id, query.user_id),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    if query.since:
        stmt = stmt.where(key >= _id_bound(query.since), AuditEvent.at >= query.since)
    if query.until:
        stmt = stmt.where(key < _id_bound(query.until), AuditEvent.at < query.until)
    return stmt, key


def page(query: AuditQuery, *, before: int | None = None, after: int | None = None, size: int = PAGE_SIZE) -> Page:
    """The page of events older than ``before``, newer than ``after``, or the newest."""
    stmt, key = _statement(query, AuditEvent)
    if after is not None:
        rows = list(db.session.scalars(stmt.where(key > after).order_by(key.asc()).limit(size + 1)))
        more = len(rows) > size
        rows = list(reversed(rows[:size]))
        return Page(rows, rows[0].id if more and rows else None, rows[-1].id if rows else None)
    if before is not None:
        stmt = stmt.where(key < before)
    rows = list(db.session.scalars(stmt.order_by(key.desc()).limit(size + 1)))
    more = len(rows) > size
    rows = rows[:size]
    newer = rows[0].id if before is not None and rows else None
    return Page(rows, newer, rows[-1].id if more else None)


def get_event(event_id: int, *, user_id: int | None = None) -> AuditEvent | None:
    """One event; None if there is none, or it is not ``user_id``'s when that is given."""
    event = db.session.get(AuditEvent, event_id)
    if event is None or (user_id is not None and event.user_id != user_id):
        return None
    return event


def _batches(query: AuditQuery, batch: int) -> Iterator[Sequence[Any]]:
    """The rows of ``query`` (the :data:`EXPORTED` columns), newest first, a keyset batch at a time."""
    columns = tuple(getattr(AuditEvent, name) for name in EXPORTED)
    stmt, key = _statement(query, columns)
    before: int | None = None
    while True:
        cut = stmt if before is None else stmt.where(key < before)
        rows = db.session.connection().execute(cut.order_by(key.desc()).limit(batch)).all()
        if rows:
            yield rows
        if len(rows) < batch:
            return
        before = rows[-1].id


def export_rows(query: AuditQuery, batch: int = EXPORT_BATCH) -> Iterator[dict[str, Any]]:
    """Every event of ``query``, newest first, as plain dicts with secrets masked."""
    for rows in _batches(query, batch):
        for row in rows:
            yield _export_dict(row._mapping)


def _export_dict(row: Mapping[str, Any]) -> dict[str, Any]:
    out = {name: row[name] for name in EXPORTED}
    out["at"] = row["at"].isoformat() if row["at"] else None
    out["before"] = masked(row["before"])
    out["after"] = masked(row["after"])
    out["detail"] = json.loads(row["detail"]) if row["detail"] else {}
    return out


def _masked_text(stored: str | None) -> str:
    """``before``/``after`` as JSON text with secrets masked (parsed only when it holds one)."""
    if not stored:
        return ""
    if '"$secret"' not in stored:
        return stored
    return json.dumps(masked(stored), sort_keys=True, ensure_ascii=False)


_AT, _BEFORE, _AFTER = EXPORTED.index("at"), EXPORTED.index("before"), EXPORTED.index("after")
_FORMULA = ("=", "+", "-", "@")


def _csv_cell(value: Any) -> Any:
    """A cell; text a spreadsheet would run as a formula is kept as text."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA):
        return "'" + value
    return value


def stream_csv(query: AuditQuery) -> Iterator[str]:
    """The CSV export, one chunk per keyset batch."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(EXPORTED)
    for rows in _batches(query, EXPORT_BATCH):
        for row in rows:
            cells = [_csv_cell(v) for v in row]
            cells[_AT] = row[_AT].isoformat() if row[_AT] else ""
            cells[_BEFORE], cells[_AFTER] = _masked_text(row[_BEFORE]), _masked_text(row[_AFTER])
            writer.writerow(cells)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


def stream_json(query: AuditQuery) -> Iterator[str]:
    """The JSON export: one array, streamed an element at a time."""
    yield "["
    for n, row in enumerate(export_rows(query)):
        yield ("," if n else "") + "\n" + json.dumps(row, sort_keys=True, ensure_ascii=False, default=str)
    yield "\n]\n"


def event_dict(event: AuditEvent) -> dict[str, Any]:
    """An event's fields for the entry page (secrets masked)."""
    return _export_dict({name: getattr(event, name) for name in EXPORTED})


def reverted_by(event_id: int) -> list[int]:
    """The ids of the events that revert ``event_id``."""
    rows = db.session.scalars(sa.select(AuditEvent.id).where(AuditEvent.reverts_id == event_id).order_by(AuditEvent.id))
    return list(rows)
