"""Airflow 3.3's rules for DAG, task and run ids, and how an id becomes one URL path segment.

* DAG and task ids follow ``airflow.utils.helpers.validate_key``: ``^[\\w.-]+$`` (``\\w`` is
  Unicode-aware), at most 250 characters, and no ``..`` (Airflow 3.3's default
  ``[core] allow_double_dot_in_ids = False``).
* Run ids follow ``DagRun.validate_run_id``: the generated ``manual__<date>`` style or the
  configurable ``[scheduler] allowed_run_id_pattern`` (default ``^[A-Za-z0-9_.~:+-]+$``); as
  that pattern is a server setting, the console only refuses what no sane pattern allows: an
  empty id, over 250 characters, ``..``, ``/``, ``\\``, or control characters.

:func:`path_segment` is the one place an id enters a URL path: every character outside
RFC 3986's unreserved set is percent-encoded, and a segment made only of dots is encoded too,
so no id -- valid or not -- can add, remove or climb a path segment.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

#: Airflow's ``ID_LEN``: the longest DAG, task or run id.
MAX_ID_LENGTH = 250
_KEY = re.compile(r"^[\w.-]+$")


def is_airflow_key(value: str) -> bool:
    """Whether ``value`` can be a DAG id or task id on Airflow 3.3."""
    return 0 < len(value) <= MAX_ID_LENGTH and bool(_KEY.match(value)) and ".." not in value


def is_run_id(value: str) -> bool:
    """Whether ``value`` can be a run id on Airflow 3.3 (see the module docstring)."""
    if not 0 < len(value) <= MAX_ID_LENGTH or ".." in value or "/" in value or "\\" in value:
        return False
    return not any(unicodedata.category(ch).startswith("C") for ch in value)


def path_segment(value: object) -> str:
    """``value`` as one percent-encoded URL path segment; raises ``ValueError`` for an empty one."""
    text = str(value)
    if not text:
        raise ValueError("an id in the URL path is empty")
    encoded = quote(text, safe="")
    if encoded.strip(".") == "":  # "." and ".." are dot-segments that clients and servers resolve
        encoded = encoded.replace(".", "%2E")
    return encoded
