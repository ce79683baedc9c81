"""A counting reverse proxy: a thread in the benchmark between the console and Airflow that
forwards every request unchanged and counts them by method and path (query left out)."""

from __future__ import annotations

import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import urllib3

# Hop-by-hop headers (RFC 9110 7.6.1) are the proxy's own business, not forwarded.
HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade", "host"}
)


class CountingProxy:
    """``with CountingProxy("http://localhost:8080") as proxy: ... proxy.url ... proxy.take()``."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._pool = urllib3.PoolManager(maxsize=16, retries=False, timeout=urllib3.Timeout(connect=5, read=120))
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="counting-proxy", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> CountingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def count(self, key: str) -> None:
        with self._lock:
            self.counts[key] += 1

    def take(self) -> Counter[str]:
        """The counts since the last ``take`` (and reset them)."""
        with self._lock:
            taken, self.counts = self.counts, Counter()
        return taken

    def forward(self, method: str, path: str, headers: dict[str, str], body: bytes | None) -> Any:
        self.count(f"{method} {urlsplit(path).path}")
        return self._pool.request(
            method, self.upstream + path, body=body, headers=headers, redirect=False, decode_content=False
        )

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _relay(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                try:
                    answer = proxy.forward(self.command, self.path, headers, body)
                except urllib3.exceptions.HTTPError as exc:
                    self.send_error(502, f"upstream: {exc}")
                    return
                data = answer.data
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    if name.lower() not in HOP_BY_HOP and name.lower() != "content-length":
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _relay

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler
