"""The views benchmark's table and result files (``bench/results/views-<N>.json``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.stats import format_table, verdict

WARM_P95_MS = 100.0
WARM_RATIO = 0.25
COLD_RATIO = 1.5
CALL_SIZES = (100, 1000)


def write_views(result: dict[str, Any], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"views-{result['dags']}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    return path


def calls_by_size(result: dict[str, Any], folder: Path) -> dict[int, dict[str, int]]:
    """Calls per view at each of :data:`CALL_SIZES`: this run's, and the others' from their files."""
    out: dict[int, dict[str, int]] = {}
    for size in CALL_SIZES:
        source = result if result["dags"] == size else None
        path = folder / f"views-{size}.json"
        if source is None and path.exists():
            source = json.loads(path.read_text())
        if source is not None:
            out[size] = {view: row["calls"] for view, row in source["views"].items()}
    return out


def views_rows(result: dict[str, Any], calls: dict[int, dict[str, int]]) -> list[list[str]]:
    rows = []
    for view, row in result["views"].items():
        air, cold, warm, load = row["airflow"], row["cold"], row["warm"], row["load"]
        warm_ok = warm["p95_ms"] < WARM_P95_MS and row["warm_ratio_p95"] <= WARM_RATIO
        per_size = [calls.get(size, {}).get(view) for size in CALL_SIZES]
        known = [n for n in per_size if n is not None]
        same = "ok" if len(known) == len(CALL_SIZES) and len(set(known)) == 1 else ("?" if len(known) < 2 else "MISS")
        rows.append(
            [
                view,
                f"{air['p50_ms']:.0f} / {air['p95_ms']:.0f}",
                f"{cold['p50_ms']:.0f} / {cold['p95_ms']:.0f}",
                f"{row['cold_ratio_p95']:.2f}x {verdict(row['cold_ratio_p95'], COLD_RATIO)}",
                f"{warm['p50_ms']:.1f} / {warm['p95_ms']:.1f}",
                f"{row['warm_ratio_p95']:.2f}x {'ok' if warm_ok else 'MISS'}",
                " / ".join("-" if n is None else str(n) for n in per_size) + f" {same}",
                f"{load['rps']:.0f}",
                f"{load.get('p95_ms', float('nan')):.0f}",
                str(load.get("airflow_calls", "-")),
            ]
        )
    return rows


HEADER = [
    "view",
    "Airflow UI p50/p95 ms",
    "cold p50/p95 ms",
    "cold/Airflow p95 (<=1.5x)",
    "warm p50/p95 ms",
    "warm/Airflow p95 (<=0.25x, <100 ms)",
    "calls @100 / @1000",
    "req/s (32 clients)",
    "p95 under load ms",
    "Airflow calls under load",
]


def print_views(result: dict[str, Any], folder: Path) -> None:
    calls = calls_by_size(result, folder)
    print(
        f"\nDAG list and home vs Airflow {result['airflow_version']}'s own UI endpoints: {result['dags']} DAGs, "
        f"{result['dag_runs']} runs, {result['repeat']} requests each ({result['measured_at']}; {result['machine']})"
    )
    print(format_table(HEADER, views_rows(result, calls)))
    for view, row in result["views"].items():
        print(
            f"  {view}: Airflow UI calls {', '.join(c.split('?')[0] for c in row['airflow_calls'])}; "
            f"console's Airflow calls {row['by_endpoint']}"
        )
