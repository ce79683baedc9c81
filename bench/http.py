"""Plain HTTP for the benchmarks (urllib3, keep-alive): Airflow with a JWT, the console with a
signed-in session cookie obtained through its real sign-in form."""

from __future__ import annotations

import json
import re
import time
from typing import Any
from urllib.parse import urlencode

import urllib3

CSRF_FIELD = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


class AirflowHttp:
    """Airflow's API as its own UI calls it: a JWT from ``/auth/token`` in ``Authorization``."""

    def __init__(self, base_url: str, username: str, password: str | None) -> None:
        self.base_url = base_url.rstrip("/")
        self.pool = urllib3.PoolManager(maxsize=4, retries=False, timeout=urllib3.Timeout(connect=5, read=120))
        answer = self.pool.request(
            "POST",
            self.base_url + "/auth/token",
            body=json.dumps({"username": username, "password": password}),
            headers={"Content-Type": "application/json"},
        )
        if answer.status not in (200, 201):
            raise RuntimeError(f"Airflow /auth/token answered {answer.status}: {answer.data[:200]!r}")
        self.headers = {"Authorization": f"Bearer {answer.json()['access_token']}", "Accept": "application/json"}

    def get(self, path: str) -> float:
        """GET ``path`` (must answer 200); returns the seconds it took, body read."""
        started = time.perf_counter()
        answer = self.pool.request("GET", self.base_url + path, headers=self.headers)
        elapsed = time.perf_counter() - started
        if answer.status != 200:
            raise RuntimeError(f"Airflow {path} answered {answer.status}: {answer.data[:200]!r}")
        return elapsed

    def get_json(self, path: str) -> Any:
        answer = self.pool.request("GET", self.base_url + path, headers=self.headers)
        if answer.status != 200:
            raise RuntimeError(f"Airflow {path} answered {answer.status}: {answer.data[:200]!r}")
        return answer.json()


class ConsoleHttp:
    """One browser-like client of the console: cookies kept by hand (the session cookie is
    ``Secure`` in the production config, and this talks plain http on loopback)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.pool = urllib3.PoolManager(maxsize=4, retries=False, timeout=urllib3.Timeout(connect=5, read=120))
        self.cookies: dict[str, str] = {}

    @property
    def cookie_header(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())

    def request(self, method: str, path: str, form: dict[str, str] | None = None) -> urllib3.BaseHTTPResponse:
        headers = {"Cookie": self.cookie_header} if self.cookies else {}
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["Referer"] = self.base_url + path
        answer = self.pool.request(method, self.base_url + path, body=body, headers=headers, redirect=False)
        for line in answer.headers.getlist("Set-Cookie"):
            name, _, value = line.split(";", 1)[0].partition("=")
            self.cookies[name.strip()] = value.strip()
        return answer

    def log_in(self, email: str, password: str) -> None:
        page = self.request("GET", "/login").data.decode()
        token = CSRF_FIELD.search(page)
        if not token:
            raise RuntimeError("no CSRF token on the console's sign-in page")
        answer = self.request("POST", "/login", {"email": email, "password": password, "csrf_token": token.group(1)})
        if answer.status != 302 or self.request("GET", "/admin/").status != 200:
            raise RuntimeError(f"signing in to the console failed (answer {answer.status})")

    def get(self, path: str) -> float:
        """GET ``path`` (must answer 200); returns the seconds it took, body read."""
        started = time.perf_counter()
        answer = self.request("GET", path)
        elapsed = time.perf_counter() - started
        if answer.status != 200:
            raise RuntimeError(f"the console's {path} answered {answer.status}")
        return elapsed
