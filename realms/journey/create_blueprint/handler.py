"""journey.create_blueprint: a service blueprint table from a solution's delivery plan."""

from __future__ import annotations

from typing import Any

from artifact_plane.operators import MARKDOWN, OperatorContext
from artifact_plane.operators.docs import markdown_items, markdown_title


def _cell(text: str) -> str:
    return text.replace("|", "/")


def blueprint(solution: str, channel: str) -> str:
    """``## Stages``: one table row per delivery phase, plus a ``## Stage list`` for later steps."""
    phases = markdown_items(solution, "Delivery plan")
    if not phases:
        raise ValueError("the solution has no Delivery plan to design stages from")
    stages = [phase.split(":", 1)[-1].strip() for phase in phases]
    rows = [
        f"| {i} | {_cell(stage)} | customer uses the {_cell(channel)} "
        "| team tracks the change | data and support |"
        for i, stage in enumerate(stages, 1)
    ]
    lines = [
        f"# Service blueprint: {markdown_title(solution).removeprefix('Solution: ')}",
        "",
        "## Stages",
        "",
        "| # | stage | customer action | frontstage / backstage | support |",
        "|---|---|---|---|---|",
        *rows,
        "",
        "## Stage list",
        "",
        *[f"{i}. {stage}" for i, stage in enumerate(stages, 1)],
    ]
    return "\n".join(lines) + "\n"


async def run(ctx: OperatorContext) -> dict[str, Any]:
    text = blueprint(await ctx.load_text("solution"), ctx.params["channel"])
    art_id = await ctx.write(
        f"blueprints/{ctx.params['name']}.md", text, artifact_type="blueprint", content_type=MARKDOWN
    )
    return {"blueprint": art_id}
