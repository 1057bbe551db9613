"""journey.create_workflow: the SOP's procedure as a linked list of JSON steps."""

from __future__ import annotations

from typing import Any

from artifact_plane.operators import OperatorContext
from artifact_plane.operators.docs import markdown_items, markdown_title


def workflow(sop: str, name: str) -> dict[str, Any]:
    """``steps[i] = {id, kind, action, next}``; the last step's ``next`` is null."""
    procedure = markdown_items(sop, "Procedure")
    if not procedure:
        raise ValueError("the SOP has no Procedure")
    steps = []
    for index, item in enumerate(procedure, 1):
        kind, _, action = item.partition(": ")
        steps.append(
            {
                "id": f"step-{index}",
                "kind": kind.lower() if action else "task",
                "action": action or item,
                "next": f"step-{index + 1}" if index < len(procedure) else None,
            }
        )
    return {
        "name": name,
        "title": markdown_title(sop).removeprefix("SOP: "),
        "start": "step-1",
        "steps": steps,
    }


async def run(ctx: OperatorContext) -> dict[str, Any]:
    document = workflow(await ctx.load_text("sop"), ctx.params["name"])
    art_id = await ctx.write_json(f"workflows/{ctx.params['name']}.json", document, artifact_type="workflow")
    return {"workflow": art_id}
