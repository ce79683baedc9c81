"""A DAG file's source as highlighted HTML, for the code tab.

Pygments, server side: the page needs no script to show the code (the CSP allows only the
console's own files), the markup uses classes only (the colours are in
``static/source_code.css``, written by :func:`stylesheet`), and every line is a ``<span
class="ln">`` that CSS numbers, so copying the code never copies the numbers.
"""

from __future__ import annotations

from markupsafe import Markup
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import PythonLexer

#: The CSS scope of the highlighted code, and the Pygments style its colours come from.
SCOPE = ".source-code"
STYLE = "default"


def highlighted(source: str) -> Markup:
    """``source`` (Python) as ``<span class="ln">``-per-line HTML, every character escaped."""
    formatter = HtmlFormatter(nowrap=True, style=STYLE)
    html = highlight(source, PythonLexer(stripnl=False, ensurenl=True), formatter)
    lines = html.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    # Pygments escaped every character of the source; the only markup is its spans and ours.
    return Markup("\n".join(f'<span class="ln">{line}</span>' for line in lines))  # noqa: S704


def stylesheet() -> str:
    """The colours of :data:`STYLE`, scoped to :data:`SCOPE` (how static/source_code.css is made)."""
    rules = HtmlFormatter(style=STYLE).get_style_defs(SCOPE).splitlines()
    scoped = [rule for rule in rules if rule.startswith(SCOPE + " ")]
    return (
        f"/* Written by console.admin.source_code.stylesheet() (Pygments {STYLE!r} style). */\n"
        + "\n".join(scoped)
        + "\n"
    )
