"""Queries of the executions area: ``execution(id)``."""

from __future__ import annotations

import strawberry

from artifact_plane.api.graphql.context import ApiContext
from artifact_plane.api.graphql.executions.types import Execution
from artifact_plane.api.graphql.permissions import authenticated

Info = strawberry.Info[ApiContext, None]


async def resolve_execution(info: Info, id: strawberry.ID) -> Execution:
    return Execution.from_model(await info.context.scoped().get_execution(str(id)))


@strawberry.type
class ExecutionQueries:
    execution: Execution | None = strawberry.field(
        resolver=resolve_execution,
        extensions=[authenticated()],
        description="One execution (references only). NOT_FOUND when missing or not yours.",
    )
