"""Fake servers for fault injection: a fake Airflow and a fake listener (webhooks, credentials).

A fake Airflow exists ONLY to produce what a real Airflow cannot on demand: timeouts, hangs, 5xx,
dropped connections, malformed answers, expiring tokens, many pages, huge logs, raw request
paths.  Tests that use one are named ``test_fake_airflow_*``; behaviour against a real Airflow
is covered by the integration tests.

A fake answers from a route table the test programs: ``(METHOD, path)`` to a queue of replies
(the last one repeats) or to a function of the request; requests without a route get the
``fallback`` (by default a 404).  Every request is recorded in ``seen``.  Start a fake with
``with FakeAirflow() as fake:`` or the ``fake_airflow`` / ``start_fake`` fixtures.
"""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

USER = "admin"
PASSWORD = "s3cret-Pa55word!"


@dataclass
class Reply:
    """One answer.  ``delay`` waits before answering (cut short when the fake stops, so a long
    delay is a hang); ``drop`` hangs up without answering; ``lines`` streams ndjson, one chunk
    per item, and ``drop_after`` hangs up after that many chunks."""

    status: int = 200
    json: Any = None
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drop: bool = False
    lines: Iterable[bytes] | None = None
    drop_after: int | None = None


@dataclass
class Seen:
    """One request as it arrived (``path`` still percent-encoded), and how it ended:
    ``outcome`` is ``"answered"``, ``"dropped"`` (by the fake) or ``"hung up"`` (by the client);
    ``done`` is set then."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    outcome: str | None = None
    done: threading.Event = field(default_factory=threading.Event)


Handler = Callable[[Seen], Reply]


class FakeServer:
    """A threaded HTTP server on 127.0.0.1 answering from a route table."""

    def __init__(self, fallback: Reply | Handler | None = None) -> None:
        self.routes: dict[tuple[str, str], list[Reply] | Handler] = {}
        self.fallback = fallback
        self.seen: list[Seen] = []
        self.stopping = threading.Event()
        self.server = QuietServer(("127.0.0.1", 0), _handler_class(self))
        self.port = int(self.server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()  # releases delayed replies
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)

    def route(self, method: str, path: str, *replies: Reply | Handler) -> None:
        if len(replies) == 1 and callable(replies[0]):
            self.routes[(method, path)] = replies[0]
        else:
            self.routes[(method, path)] = list(replies)  # type: ignore[arg-type]

    def calls(self, method: str, path: str) -> list[Seen]:
        return [s for s in self.seen if s.method == method and s.path == path]

    def answered(self) -> int:
        return sum(1 for s in self.seen if s.outcome == "answered")

    def reply_for(self, seen: Seen) -> Reply:
        target = self.routes.get((seen.method, seen.path), self.fallback)
        if target is None:
            return Reply(404, {"detail": f"no route {seen.method} {seen.path}"})
        if isinstance(target, Reply):
            return target
        if callable(target):
            return target(seen)
        return target.pop(0) if len(target) > 1 else target[0]


class FakeAirflow(FakeServer):
    """A fake Airflow API.  With ``tokens`` (the default) it logs in like Airflow 3: ``POST
    /auth/token`` with ``USER``/``PASSWORD`` gives a JWT valid for ``token_ttl`` seconds, and every
    other request needs one of those tokens (else 401).  Without, it answers every request from the
    route table (for clients with a static token, or a fallback that refuses everything)."""

    def __init__(self, fallback: Reply | Handler | None = None, *, tokens: bool = True) -> None:
        super().__init__(fallback)
        self.tokens = tokens
        self.valid_tokens: set[str] = set()
        self.token_ttl = 3600.0

    def revoke_tokens(self) -> None:
        """Refuse every token given so far (e.g. Airflow's JWT secret changed)."""
        self.valid_tokens.clear()

    def reply_for(self, seen: Seen) -> Reply:
        login = ("POST", "/auth/token")
        if not self.tokens or ((seen.method, seen.path) == login and login in self.routes):
            return super().reply_for(seen)
        if (seen.method, seen.path) == login:
            return self.log_in(seen)
        auth = seen.headers.get("authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self.valid_tokens:
            return Reply(401, {"detail": "Not authenticated"})
        return super().reply_for(seen)

    def log_in(self, seen: Seen) -> Reply:
        if json.loads(seen.body or b"{}") != {"username": USER, "password": PASSWORD}:
            return Reply(401, {"detail": "Invalid credentials"})
        token = make_jwt(time.time() + self.token_ttl)
        self.valid_tokens.add(token)
        return Reply(201, {"access_token": token})


def make_jwt(exp: float, sub: str = USER) -> str:
    """An unsigned-looking JWT with Airflow's claims; the console only reads ``exp``."""

    def b64(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    claims = {"sub": sub, "exp": int(exp), "jti": uuid.uuid4().hex}
    return f"{b64({'alg': 'HS512', 'typ': 'JWT'})}.{b64(claims)}.c2lnbmF0dXJl"


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client hanging up on a slow reply is the point of some tests


def _handler_class(fake: FakeServer) -> type[BaseHTTPRequestHandler]:
    class FakeHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def hang_up(self) -> None:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)

        def serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            parts = urlsplit(self.path)
            seen = Seen(
                self.command,
                parts.path,
                parse_qs(parts.query),
                {k.lower(): v for k, v in self.headers.items()},
                self.rfile.read(length) if length else b"",
            )
            fake.seen.append(seen)
            try:
                seen.outcome = self.answer(fake.reply_for(seen))
            except OSError:
                seen.outcome = "hung up"
                self.close_connection = True
            finally:
                seen.done.set()

        def answer(self, reply: Reply) -> str:
            if reply.delay:
                fake.stopping.wait(reply.delay)
            if reply.drop:
                self.hang_up()
                return "dropped"
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            if reply.lines is not None:
                self.send_header("Content-Type", "application/x-ndjson")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for i, line in enumerate(reply.lines):
                    if reply.drop_after is not None and i >= reply.drop_after:
                        self.hang_up()
                        return "dropped"
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
                self.wfile.write(b"0\r\n\r\n")
                return "answered"
            data = reply.body if reply.body is not None else json.dumps(reply.json).encode()
            if "Content-Type" not in reply.headers:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return "answered"

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = serve

    return FakeHandler
