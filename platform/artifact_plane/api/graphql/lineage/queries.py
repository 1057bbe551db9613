"""Queries of the lineage area: ``lineage(artifactId, direction, depth, maxNodes)``."""

from __future__ import annotations

import strawberry

from artifact_plane.api.graphql.context import ApiContext
from artifact_plane.api.graphql.lineage.types import LineageDirection, LineageGraph
from artifact_plane.api.graphql.permissions import authenticated

Info = strawberry.Info[ApiContext, None]


async def resolve_lineage(
    info: Info,
    artifact_id: strawberry.ID,
    direction: LineageDirection = LineageDirection.DOWNSTREAM,
    depth: int = 3,
    max_nodes: int | None = None,
) -> LineageGraph:
    graph = await info.context.scoped().lineage(
        str(artifact_id), direction=direction.value, depth=depth, max_nodes=max_nodes
    )
    return LineageGraph.from_model(graph)


@strawberry.type
class LineageQueries:
    lineage: LineageGraph = strawberry.field(
        resolver=resolve_lineage,
        extensions=[authenticated()],
        description="The lineage around an artifact (or execution). `depth` counts artifact hops.",
    )
