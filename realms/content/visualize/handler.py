"""content.visualize: an SVG bar chart of an analysis_result."""

from __future__ import annotations

from typing import Any

from artifact_plane.operators import SVG, OperatorContext
from artifact_plane.operators.docs import bar_chart_svg

SUMMARY = ("min", "p25", "median", "p75", "max")


def chart(analysis: dict[str, Any], title: str | None) -> str:
    """Group means when the analysis has groups, else the five-number summary."""
    column = analysis.get("column", "value")
    groups = analysis.get("groups")
    if groups:
        labels = list(groups)
        values = [float(groups[g]["mean"]) for g in labels]
        default = f"Mean {column} by {analysis.get('group_by', 'group')}"
    else:
        overall = analysis["overall"]
        labels = list(SUMMARY)
        values = [float(overall[k]) for k in SUMMARY]
        default = f"Distribution of {column}"
    return bar_chart_svg(title or default, labels, values)


async def run(ctx: OperatorContext) -> dict[str, Any]:
    analysis = await ctx.load_json("analysis")
    svg = chart(analysis, ctx.params["title"])
    art_id = await ctx.write(
        f"charts/{ctx.params['name']}.svg", svg, artifact_type="visualization", content_type=SVG
    )
    return {"chart": art_id}
