"""Pure helpers of the benchmarks: percentiles, summaries and the printed table."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(samples: Sequence[float], share: float) -> float:
    """The ``share`` (0..1) percentile, interpolated linearly between the closest ranks."""
    if not samples:
        raise ValueError("no samples")
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"share {share} is not within 0..1")
    ordered = sorted(samples)
    rank = share * (len(ordered) - 1)
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summary_ms(samples: Sequence[float]) -> dict[str, float]:
    """p50 and p95 of samples in seconds, as milliseconds rounded to 0.1."""
    return {
        "p50_ms": round(percentile(samples, 0.5) * 1000, 1),
        "p95_ms": round(percentile(samples, 0.95) * 1000, 1),
        "n": len(samples),
    }


def ratio(console_ms: float, airflow_ms: float) -> float:
    return round(console_ms / airflow_ms, 2) if airflow_ms > 0 else math.inf


def verdict(value: float, limit: float) -> str:
    return "ok" if value <= limit else "MISS"


def format_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Columns padded to their widest cell; the first column left-aligned, the rest right-aligned."""
    cells = [[str(c) for c in header]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]

    def line(row: list[str]) -> str:
        first = row[0].ljust(widths[0])
        return "  ".join([first] + [cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)])

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(cells[0]), rule] + [line(row) for row in cells[1:]])
