"""outcomes.create_solution: joins a roadmap and a proof of concept, read back by ID, into a design."""

from __future__ import annotations

from typing import Any

from artifact_plane.operators import MARKDOWN, OperatorContext
from artifact_plane.operators.docs import markdown_items, markdown_section, markdown_title


def solution(roadmap: str, poc: str, owner: str, refs: dict[str, str]) -> str:
    """``## Delivery plan`` repeats the roadmap phases; ``## Validation`` carries the PoC hypothesis."""
    phases = markdown_items(roadmap, "Phases")
    hypothesis = markdown_section(poc, "Hypothesis")
    if not phases or not hypothesis:
        raise ValueError("the roadmap needs a Phases list and the proof of concept a Hypothesis")
    goal = markdown_title(roadmap).removeprefix("Roadmap: ")
    lines = [
        f"# Solution: {goal}",
        "",
        f"Owner: {owner}.",
        "",
        "## Delivery plan",
        "",
        *[f"- {phase}" for phase in phases],
        "",
        "## Validation",
        "",
        hypothesis,
        "",
        *[f"- {item}" for item in markdown_items(poc, "Success criteria")],
        "",
        "## Sources",
        "",
        f"- roadmap {refs['roadmap']}",
        f"- proof of concept {refs['poc']}",
    ]
    return "\n".join(lines) + "\n"


async def run(ctx: OperatorContext) -> dict[str, Any]:
    refs = dict(ctx.input_ids())
    # Read back from the plane by ID: the inputs are references, never handed over as data.
    roadmap = (await ctx.plane.get_artifact(refs["roadmap"], include_payload=True)).text()
    poc = (await ctx.plane.get_artifact(refs["poc"], include_payload=True)).text()
    text = solution(roadmap, poc, ctx.params["owner"], refs)
    art_id = await ctx.write(
        f"solutions/{ctx.params['name']}.md", text, artifact_type="solution", content_type=MARKDOWN
    )
    return {"solution": art_id}
