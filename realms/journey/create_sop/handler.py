"""journey.create_sop: numbered procedure steps, three per blueprint stage."""

from __future__ import annotations

from typing import Any

from artifact_plane.operators import MARKDOWN, OperatorContext
from artifact_plane.operators.docs import markdown_items, markdown_title

ACTIONS = ("Plan", "Do", "Check")


def sop(blueprint: str, owner: str) -> str:
    """``## Procedure`` lists ``Plan: <stage>``, ``Do: <stage>``, ``Check: <stage>`` per stage."""
    stages = markdown_items(blueprint, "Stage list")
    if not stages:
        raise ValueError("the blueprint has no Stage list")
    steps = [f"{action}: {stage}" for stage in stages for action in ACTIONS]
    lines = [
        f"# SOP: {markdown_title(blueprint).removeprefix('Service blueprint: ')}",
        "",
        "## Purpose",
        "",
        f"Run the {len(stages)} stages of the service blueprint the same way every time.",
        "",
        "## Procedure",
        "",
        *[f"{i}. {step}" for i, step in enumerate(steps, 1)],
        "",
        "## Owner",
        "",
        owner,
    ]
    return "\n".join(lines) + "\n"


async def run(ctx: OperatorContext) -> dict[str, Any]:
    text = sop(await ctx.load_text("blueprint"), ctx.params["owner"])
    art_id = await ctx.write(
        f"sops/{ctx.params['name']}.md", text, artifact_type="sop", content_type=MARKDOWN
    )
    return {"sop": art_id}
