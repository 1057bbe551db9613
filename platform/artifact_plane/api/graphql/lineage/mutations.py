"""Mutations of the lineage area: ``registerLineage``."""

from __future__ import annotations

import strawberry

from artifact_plane.api.graphql.context import ApiContext
from artifact_plane.api.graphql.lineage.types import RegisterLineagePayload
from artifact_plane.api.graphql.permissions import authenticated

Info = strawberry.Info[ApiContext, None]


@strawberry.input(description="An execution consumed `inputs` and produced `outputs` (artifact IDs).")
class RegisterLineageInput:
    execution_id: strawberry.ID
    inputs: list[strawberry.ID] = strawberry.field(default_factory=list)
    outputs: list[strawberry.ID] = strawberry.field(default_factory=list)
    intent: str | None = None
    operator: str | None = None


async def register_lineage(info: Info, input: RegisterLineageInput) -> RegisterLineagePayload:
    execution = await info.context.scoped().register_lineage(
        str(input.execution_id),
        inputs=[str(i) for i in input.inputs],
        outputs=[str(o) for o in input.outputs],
        intent=input.intent,
        operator=input.operator,
    )
    return RegisterLineagePayload(
        execution_id=strawberry.ID(execution.execution_id),
        input_ids=[strawberry.ID(i) for i in execution.inputs],
        output_ids=[strawberry.ID(o) for o in execution.outputs],
    )


@strawberry.type
class LineageMutations:
    register_lineage: RegisterLineagePayload | None = strawberry.mutation(
        resolver=register_lineage,
        extensions=[authenticated()],
        description="Record an execution's inputs and outputs (needs read on inputs, "
        "lineage.register on outputs).",
    )
