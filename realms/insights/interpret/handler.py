"""insights.interpret: findings and recommendations from an analysis, as markdown."""

from __future__ import annotations

from typing import Any

from artifact_plane.operators import MARKDOWN, OperatorContext


def interpret(analysis: dict[str, Any], target: float) -> str:
    """A markdown document: summary, ``## Findings`` and ``## Recommendations`` lists."""
    column = analysis.get("column", "value")
    overall = analysis["overall"]
    groups: dict[str, dict[str, Any]] = analysis.get("groups") or {}
    ranked = sorted(groups.items(), key=lambda item: (item[1]["mean"], item[0]))
    below = [(name, stats) for name, stats in ranked if stats["mean"] < target]
    lines = [
        f"# Interpretation: {analysis.get('dataset') or 'dataset'}",
        "",
        f"Mean {column} is **{overall['mean']:g}** over {overall['count']} values "
        f"(median {overall['median']:g}, spread {overall['std']:g}); the target is {target:g}.",
        "",
        "## Findings",
        "",
    ]
    if below:
        lines += [f"- {name}: mean {stats['mean']:g} is below target {target:g}" for name, stats in below]
    elif overall["mean"] < target:
        lines.append(f"- overall: mean {overall['mean']:g} is below target {target:g}")
    else:
        lines.append(f"- every group meets the target {target:g}")
    if ranked:
        best, worst = ranked[-1], ranked[0]
        lines.append(f"- highest: {best[0]} ({best[1]['mean']:g}); lowest: {worst[0]} ({worst[1]['mean']:g})")
    lines += ["", "## Recommendations", ""]
    focus = [name for name, _ in below] or ["the lowest group"]
    lines += [f"- Raise {column} in {name} to at least {target:g}" for name in focus]
    return "\n".join(lines) + "\n"


async def run(ctx: OperatorContext) -> dict[str, Any]:
    analysis = await ctx.load_json("analysis")
    text = interpret(analysis, float(ctx.params["target"]))
    art_id = await ctx.write(
        f"interpretations/{ctx.params['name']}.md",
        text,
        artifact_type="interpretation",
        content_type=MARKDOWN,
    )
    return {"interpretation": art_id}
