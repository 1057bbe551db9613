"""outcomes.create_roadmap: phases by quarter from an interpretation's recommendations."""

from __future__ import annotations

from typing import Any

from artifact_plane.operators import MARKDOWN, OperatorContext
from artifact_plane.operators.docs import markdown_items, markdown_title


def roadmap(goal: str, interpretation: str, quarters: int, evidence: list[str]) -> str:
    """``## Phases`` lists ``Q<n>: <item>``, recommendations dealt round-robin over the quarters."""
    actions = markdown_items(interpretation, "Recommendations") or markdown_items(interpretation, "Findings")
    if not actions:
        raise ValueError("the interpretation has no Recommendations or Findings to plan from")
    phases = [f"Q{index % quarters + 1}: {action}" for index, action in enumerate(actions)]
    phases.sort(key=lambda phase: int(phase.split(":", 1)[0][1:]))
    lines = [
        f"# Roadmap: {goal}",
        "",
        f"From {markdown_title(interpretation) or 'an interpretation'}.",
        "",
        "## Phases",
        "",
        *[f"- {phase}" for phase in phases],
        "",
        "## Evidence",
        "",
        *[f"- {ref}" for ref in evidence],
    ]
    return "\n".join(lines) + "\n"


async def run(ctx: OperatorContext) -> dict[str, Any]:
    interpretation = await ctx.load_text("interpretation")
    evidence = [f"artifact {record.artifact_id} ({record.artifact_type})" for record in ctx.inputs.values()]
    text = roadmap(ctx.params["goal"], interpretation, int(ctx.params["quarters"]), evidence)
    art_id = await ctx.write(
        f"roadmaps/{ctx.params['name']}.md", text, artifact_type="roadmap", content_type=MARKDOWN
    )
    return {"roadmap": art_id}
