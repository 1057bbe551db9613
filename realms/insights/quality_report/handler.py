"""insights.quality_report: completeness, duplicates and type problems of a dataset."""

from __future__ import annotations

import json
from typing import Any

from artifact_plane.operators import OperatorContext


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def quality(dataset: dict[str, Any], numeric: list[str], min_completeness: float) -> dict[str, Any]:
    """The report document; ``verdict`` is ``usable`` or ``needs_work`` with the reasons."""
    rows = [row for row in dataset.get("rows", []) if isinstance(row, dict)]
    columns = list(dataset.get("columns") or sorted({key for row in rows for key in row}))
    missing = {column: sum(1 for row in rows if row.get(column) in (None, "")) for column in columns}
    cells = len(rows) * len(columns)
    completeness = round(1 - sum(missing.values()) / cells, 6) if cells else 0.0
    seen: set[str] = set()
    duplicates = 0
    for row in rows:
        key = json.dumps(row, sort_keys=True)
        duplicates += key in seen
        seen.add(key)
    not_numeric = {
        column: sum(1 for row in rows if row.get(column) is not None and not _is_number(row.get(column)))
        for column in numeric
    }
    problems = []
    if completeness < min_completeness:
        problems.append(f"completeness {completeness:g} is below {min_completeness:g}")
    if duplicates:
        problems.append(f"{duplicates} duplicate rows")
    problems += [f"{n} non-numeric values in {c}" for c, n in not_numeric.items() if n]
    if not rows:
        problems.append("no rows")
    return {
        "dataset": dataset.get("name"),
        "rows": len(rows),
        "columns": columns,
        "missing": missing,
        "completeness": completeness,
        "duplicate_rows": duplicates,
        "non_numeric": not_numeric,
        "verdict": "needs_work" if problems else "usable",
        "problems": problems,
    }


async def run(ctx: OperatorContext) -> dict[str, Any]:
    dataset = await ctx.load_json("dataset")
    report = quality(dataset, list(ctx.params["numeric"]), float(ctx.params["min_completeness"]))
    art_id = await ctx.write_json(
        f"quality/{ctx.params['name']}.json", report, artifact_type="quality_report"
    )
    return {"quality_report": art_id}
