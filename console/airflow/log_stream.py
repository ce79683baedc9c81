"""Task logs streamed as ndjson, one :class:`~console.airflow.payloads.LogLine` at a time.

Contract: :class:`LogLineStream` wraps the open urllib3 response of
``GET .../logs/{try}`` asked with ``Accept: application/x-ndjson`` (see
:meth:`console.airflow.client.AirflowClient.iter_log_lines`) and never holds
more than one chunk and one line of the log.  A line that is not a JSON
message is kept as text; a connection lost midway raises
:class:`~console.airflow.errors.AirflowUnavailable`.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from urllib3.exceptions import HTTPError

from console.airflow.payloads import BadPayload, LogLine, parse_log_line

if TYPE_CHECKING:
    from console.airflow.session import AirflowSession

__all__ = ["LogLineStream"]


class LogLineStream(Iterator[LogLine]):
    """Log lines read one by one from an ndjson answer; closes the connection
    when exhausted, on ``close()``, or as a context manager."""

    def __init__(self, session: AirflowSession, what: str, response: Any, chunk_size: int = 64 * 1024) -> None:
        self._session = session
        self._what = what
        self._response = response
        self._lines = self._generate(chunk_size)
        self._done = False

    def _generate(self, chunk_size: int) -> Iterator[LogLine]:
        buffer = b""
        for chunk in self._response.stream(chunk_size, decode_content=True):
            buffer += chunk
            *complete, buffer = buffer.split(b"\n")
            for raw in complete:
                line = self._parse(raw)
                if line is not None:
                    yield line
        line = self._parse(buffer)
        if line is not None:
            yield line

    def _parse(self, raw: bytes) -> LogLine | None:
        raw = raw.strip()
        if not raw:
            return None
        try:
            return parse_log_line(json.loads(raw))
        except (ValueError, UnicodeDecodeError, RecursionError, BadPayload):
            # Not a JSON message (or one nested too deeply to decode): keep the text rather than lose the line.
            return LogLine(timestamp=None, level=None, event=raw.decode("utf-8", "replace"), extra={})

    def __iter__(self) -> LogLineStream:
        return self

    def __next__(self) -> LogLine:
        if self._done:
            raise StopIteration
        try:
            return next(self._lines)
        except StopIteration:
            self._finish(release=True)
            raise
        except (HTTPError, OSError) as exc:
            self._finish(release=False)
            raise self._session.unavailable(self._what, exc) from None

    def _finish(self, *, release: bool) -> None:
        if not self._done:
            self._done = True
            if release:
                self._response.release_conn()
            else:
                self._response.close()

    def close(self) -> None:
        self._finish(release=False)

    def __enter__(self) -> LogLineStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # never raise from a finaliser
            self.close()
