"""outcomes.create_poc: a proof of concept for the first recommendation of an interpretation."""

from __future__ import annotations

from typing import Any

from artifact_plane.operators import MARKDOWN, OperatorContext
from artifact_plane.operators.docs import markdown_items


def poc(interpretation: str, weeks: int) -> str:
    """``## Hypothesis`` (one line), ``## Experiment`` and ``## Success criteria`` sections."""
    recommendations = markdown_items(interpretation, "Recommendations")
    findings = markdown_items(interpretation, "Findings")
    if not recommendations:
        raise ValueError("the interpretation has no Recommendations to test")
    lines = [
        f"# Proof of concept: {recommendations[0]}",
        "",
        "## Hypothesis",
        "",
        f"{recommendations[0]} within {weeks} weeks.",
        "",
        "## Experiment",
        "",
        f"- Address: {findings[0] if findings else recommendations[0]}",
        f"- Run for {weeks} weeks with a control group",
        "",
        "## Success criteria",
        "",
        "- The measured mean reaches the target in the pilot group",
        "- No group drops below its current mean",
    ]
    return "\n".join(lines) + "\n"


async def run(ctx: OperatorContext) -> dict[str, Any]:
    text = poc(await ctx.load_text("interpretation"), int(ctx.params["weeks"]))
    art_id = await ctx.write(
        f"pocs/{ctx.params['name']}.md", text, artifact_type="poc", content_type=MARKDOWN
    )
    return {"poc": art_id}
