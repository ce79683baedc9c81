"""Every state the console knows has a colour in the one palette, and nothing else defines one."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from console.models.states import DagRunState, FireState, JobItemState, JobState, TaskInstanceState

STATIC = Path(__file__).resolve().parents[2] / "console" / "static"
PALETTE = (STATIC / "states.css").read_text()


def palette_classes() -> set[str]:
    """The states that have a ``.state-<value>`` rule with a background colour."""
    return set(re.findall(r"^\.state-([a-z_]+) \{[^}]*--state-bg:", PALETTE, re.M))


@pytest.mark.parametrize("state", [*DagRunState, *TaskInstanceState, *FireState, *JobState, *JobItemState, "none"])
def test_each_state_has_a_palette_class(state: str) -> None:
    assert state in palette_classes()


def test_final_states_are_states_of_their_own_kind() -> None:
    assert set(DagRunState) >= DagRunState.FINAL
    assert set(TaskInstanceState) >= TaskInstanceState.FINAL
    assert set(FireState) >= FireState.FINAL
    assert set(JobState) >= JobState.FINAL
    assert set(JobItemState) >= JobItemState.FINAL


def test_no_other_stylesheet_defines_a_state_class() -> None:
    states = "|".join(
        sorted({*DagRunState, *TaskInstanceState, *FireState, *JobState, *JobItemState, "none"}, key=len, reverse=True)
    )
    rule = re.compile(rf"\.state-({states})\b[^{{;]*\{{")
    sheets = [p for p in STATIC.rglob("*.css") if "vendor" not in p.parts and p.name != "states.css"]
    assert [p.name for p in sheets if rule.search(p.read_text())] == []
