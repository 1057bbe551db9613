"""GraphQL types of the executions area."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from artifact_plane.api.graphql.context import ApiContext
from artifact_plane.models import Execution as ExecutionModel

if TYPE_CHECKING:
    from artifact_plane.api.graphql.artifacts.types import Artifact

Info = strawberry.Info[ApiContext, None]
ArtifactRef = Annotated["Artifact", strawberry.lazy("artifact_plane.api.graphql.artifacts.types")]


@strawberry.enum(name="ExecutionStatus")
class ExecutionStatusEnum(enum.Enum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


async def _inputs(root: Execution, info: Info) -> list[Artifact]:
    return await load_artifacts(info, root.input_ids)


async def _outputs(root: Execution, info: Info) -> list[Artifact]:
    return await load_artifacts(info, root.output_ids)


@strawberry.type(
    description="One run of an intent: references (artifact IDs) only. An execution known only "
    "from lineage edges has just its `id`."
)
class Execution:
    id: strawberry.ID
    realm: str | None = None
    intent: str | None = None
    operator: str | None = None
    status: ExecutionStatusEnum | None = None
    input_ids: list[strawberry.ID] = strawberry.field(default_factory=list)
    output_ids: list[strawberry.ID] = strawberry.field(default_factory=list)
    error: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None

    inputs: list[ArtifactRef] = strawberry.field(
        resolver=_inputs, description="The inputs you may read (batched; others are left out)."
    )
    outputs: list[ArtifactRef] = strawberry.field(
        resolver=_outputs, description="The outputs you may read (batched; others are left out)."
    )

    @classmethod
    def from_model(cls, execution: ExecutionModel) -> Execution:
        return cls(
            id=strawberry.ID(execution.execution_id),
            realm=execution.realm,
            intent=execution.intent,
            operator=execution.operator,
            status=ExecutionStatusEnum(execution.status.value),
            input_ids=[strawberry.ID(i) for i in execution.inputs],
            output_ids=[strawberry.ID(i) for i in execution.outputs],
            error=execution.error,
            started_at=execution.started_at,
            finished_at=execution.finished_at,
        )


async def load_executions(info: Info, ids: Sequence[str]) -> list[Execution]:
    """Executions by ID through the request's loader; edge-only ones keep just their ID."""
    found = await info.context.loaders.execution.load_many(list(ids))
    return [
        Execution.from_model(e) if e is not None else Execution(id=strawberry.ID(i))
        for i, e in zip(ids, found, strict=True)
    ]


async def load_artifacts(info: Info, ids: Sequence[str]) -> list[Artifact]:
    from artifact_plane.api.graphql.artifacts.types import Artifact

    found = await info.context.loaders.artifact.load_many([str(i) for i in ids])
    return [Artifact.from_record(r) for r in found if r is not None]
