"""JSON typed by a person (a DAG run's conf), parsed within limits.

``json.loads`` recurses once per nesting level: ``[[[[...]]]]`` 100,000 deep raised
``RecursionError`` (a 500) instead of a message.  :func:`parse_json_input` refuses input
longer than :data:`MAX_JSON_CHARS` or nested deeper than :data:`MAX_JSON_DEPTH` before
``json.loads`` sees it; every form and command that reads user JSON goes through it.
"""

from __future__ import annotations

import json
import re
from typing import Any

#: The longest JSON text accepted (a DAG run's conf is settings, not data).
MAX_JSON_CHARS = 100_000
#: The deepest nesting of arrays and objects accepted.
MAX_JSON_DEPTH = 32

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)
_BRACKET = re.compile(r"[\[\]{}]")


class JsonInputError(ValueError):
    """The text is not JSON the console accepts; ``str()`` is a message for a person."""


def nesting_depth(text: str, stop_after: int = MAX_JSON_DEPTH) -> int:
    """The deepest bracket nesting in ``text`` outside strings, without recursion; counting
    stops once it passes ``stop_after``."""
    depth = deepest = 0
    for match in _BRACKET.finditer(_STRING.sub('""', text)):
        depth += 1 if match.group() in "[{" else -1
        if depth > deepest:
            deepest = depth
            if deepest > stop_after:
                break
    return deepest


def parse_json_input(text: str) -> Any:
    """``text`` parsed as JSON; :class:`JsonInputError` when it is too long, too deep or invalid."""
    if len(text) > MAX_JSON_CHARS:
        raise JsonInputError(f"The JSON is {len(text):,} characters long; the limit is {MAX_JSON_CHARS:,}.")
    if nesting_depth(text) > MAX_JSON_DEPTH:
        raise JsonInputError(f"The JSON is nested more than {MAX_JSON_DEPTH} levels deep.")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise JsonInputError(f"Not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno}).") from None
