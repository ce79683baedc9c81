"""Helpers shared by more than one browser test."""

from __future__ import annotations

from typing import Any


def create_variable_in_browser(page: Any, variables_url: str, key: str, value: str, description: str = "") -> None:
    """Create an Airflow variable through the console's form at ``variables_url`` (a server's
    variables list) and wait for the list to show it."""
    page.goto(f"{variables_url}/new")
    page.fill("#key", key)
    page.fill("#value", value)
    page.fill("#description", description)
    page.click("[data-testid=save]")
    page.wait_for_selector(f"[data-testid=object-row][data-object-id={key}]")


def edit_variable_in_browser(page: Any, variables_url: str, key: str, value: str) -> None:
    """Change a variable's value through the list's Edit button and wait for the list again."""
    page.goto(f"{variables_url}/?q={key}")
    page.click(f"[data-testid=object-row][data-object-id={key}] [data-testid=edit]")
    page.fill("#value", value)
    page.click("[data-testid=save]")
    page.wait_for_selector(f"[data-testid=object-row][data-object-id={key}]")
