"""Log output: plain text, or one JSON object per line (``LOG_FORMAT = "json"``).

Every line, in either format, goes through :func:`scrub` first: passwords in URLs
(``postgresql://user:secret@host``), ``password=``/``token=``/``secret=`` pairs, bearer
tokens and JWT-looking strings are replaced by ``***``, in the message and in the
traceback, so a logged exception cannot carry a secret to the log store.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
FORMATS = ("text", "json")
#: ``LogRecord`` attributes that are the record's own, not context passed with ``extra=``.
_RECORD_FIELDS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
_SECRET_WORDS = "password|passwd|pwd|token|secret|api[_-]?key|access_token"
_SECRETS = (
    (re.compile(r"(?P<keep>[a-z][a-z0-9+.-]*://[^/\s:@]*:)[^@\s/]+(?=@)", re.I), r"\g<keep>***"),
    (re.compile(rf"(?P<keep>\b(?:{_SECRET_WORDS})\b[\"']?\s*[=:]\s*[\"']?)[^\s\"'&,;)]+", re.I), r"\g<keep>***"),
    (re.compile(r"(?P<keep>\bBearer\s+)[\w.~+/=-]+", re.I), r"\g<keep>***"),
    (re.compile(r"eyJ[\w-]{5,}\.[\w-]{5,}\.[\w-]+"), "***"),
)


def scrub(text: str) -> str:
    """``text`` with every secret-looking value replaced by ``***``."""
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


class ScrubbingFormatter(logging.Formatter):
    """The text format, with secrets scrubbed from the message and the traceback."""

    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, the ``extra=`` context
    (request id, user, endpoint, status, duration, Airflow server...) and the scrubbed
    traceback of an exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": scrub(record.getMessage()),
        }
        for key, value in vars(record).items():
            if key not in _RECORD_FIELDS and not key.startswith("_"):
                entry[key] = scrub(value) if isinstance(value, str) else value
        if record.exc_info:
            entry["error"] = scrub(self.formatException(record.exc_info))
        return json.dumps(entry, default=str, ensure_ascii=False)


class RequestContext(logging.Filter):
    """Add the current request's id, endpoint and path to every record logged while it runs
    (Flask's own "Exception on ..." record of an unhandled error included)."""

    def filter(self, record: logging.LogRecord) -> bool:
        from flask import g, has_request_context, request

        if has_request_context():
            for key, value in (("request_id", g.get("request_id")), ("endpoint", request.endpoint)):
                if value is not None and not hasattr(record, key):
                    setattr(record, key, value)
            if not hasattr(record, "path"):
                record.path = request.path
        return True


class _ConsoleHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The handler :func:`configure` installs (found again, not added twice, by its class)."""


def configure(fmt: str, level: str = "INFO") -> None:
    """Send the root logger's records to stderr in ``fmt`` ("text" or "json") at ``level``.

    Idempotent: a second call replaces the handler the first installed.
    """
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _ConsoleHandler)]:
        root.removeHandler(handler)
    handler = _ConsoleHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else ScrubbingFormatter(TEXT_FORMAT))
    handler.addFilter(RequestContext())
    root.addHandler(handler)
    root.setLevel(level.upper())
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    # In text, gunicorn's access log (stdout) already has a line per request, request id included.
    logging.getLogger("console.request").setLevel(logging.NOTSET if fmt == "json" else logging.WARNING)
