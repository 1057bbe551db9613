"""content.analyze: numpy statistics of a dataset column, overall and per group."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from artifact_plane.operators import OperatorContext


def _describe(values: np.ndarray[Any, np.dtype[np.float64]]) -> dict[str, float | int]:
    q25, median, q75 = np.percentile(values, [25, 50, 75])
    return {
        "count": int(values.size),
        "mean": round(float(values.mean()), 6),
        "std": round(float(values.std()), 6),  # population standard deviation (ddof=0)
        "min": float(values.min()),
        "p25": float(q25),
        "median": float(median),
        "p75": float(q75),
        "max": float(values.max()),
    }


def analyze(document: dict[str, Any], column: str, group_by: str | None) -> dict[str, Any]:
    """The analysis document of ``column`` in a ``{"rows": [...]}`` dataset.

    Raises:
        ValueError: the column is missing or has no numeric value.
    """
    rows = document.get("rows")
    if not isinstance(rows, list) or not rows:
        raise ValueError("the dataset has no rows")
    numeric: list[tuple[float, Any]] = []
    skipped = 0
    for row in rows:
        value = row.get(column) if isinstance(row, dict) else None
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            numeric.append((float(value), row.get(group_by) if group_by else None))
        else:
            skipped += 1
    if not numeric:
        raise ValueError(f"column {column!r} has no numeric values (columns: {document.get('columns')})")
    values = np.array([v for v, _ in numeric], dtype=np.float64)
    result: dict[str, Any] = {
        "dataset": document.get("name"),
        "column": column,
        "rows": len(rows),
        "skipped": skipped,
        "overall": _describe(values),
    }
    if group_by:
        groups: dict[str, list[float]] = {}
        for value, group in numeric:
            groups.setdefault(str(group), []).append(value)
        result["group_by"] = group_by
        result["groups"] = {
            name: _describe(np.array(members, dtype=np.float64)) for name, members in sorted(groups.items())
        }
    return result


async def run(ctx: OperatorContext) -> dict[str, Any]:
    dataset = await ctx.load_json("dataset")
    analysis = analyze(dataset, ctx.params["value"], ctx.params["group_by"])
    ctx.logger.info("analysed %s rows of %s", analysis["rows"], analysis["dataset"])
    art_id = await ctx.write_json(
        f"analysis/{ctx.params['name']}.json", analysis, artifact_type="analysis_result"
    )
    return {"analysis": art_id}
