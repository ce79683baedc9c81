"""A person signs in, sees the admin home, signs out; a wrong password shows an error."""

from __future__ import annotations

import pytest

from tests.conftest import browser_login, screenshot

pytestmark = pytest.mark.e2e


def test_sign_in_see_home_sign_out(page, live_server) -> None:
    page.goto(f"{live_server.url}/admin/")
    page.wait_for_url(lambda url: "/login?next=" in url)
    screenshot(page, "login")
    email = browser_login(page, live_server, "operator")
    assert page.inner_text("[data-testid=current-user]") == email
    assert "At a glance" in page.inner_text("body")
    screenshot(page, "home")
    page.click("#user-menu")
    page.click("[data-testid=sign-out]")
    page.wait_for_url(lambda url: url.endswith("/login"))
    page.goto(f"{live_server.url}/admin/")
    page.wait_for_url(lambda url: "/login?next=" in url)


def test_failed_sign_in_shows_an_error(page, live_server) -> None:
    page.goto(f"{live_server.url}/login")
    page.fill("#email", "nobody@example.com")
    page.fill("#password", "not the password")
    page.click("[data-testid=sign-in]")
    assert "Invalid email or password" in page.inner_text("[data-testid=login-errors]")
    assert "/login" in page.url
