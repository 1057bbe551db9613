"""Queries of the artifacts area: ``artifact(id)`` and ``artifacts(filter, first, after)``."""

from __future__ import annotations

from typing import Annotated

import strawberry

from artifact_plane.api.graphql.artifacts.types import (
    Artifact,
    ArtifactConnection,
    ArtifactEdge,
    ArtifactFilter,
)
from artifact_plane.api.graphql.common import PageInfo
from artifact_plane.api.graphql.context import ApiContext
from artifact_plane.api.graphql.permissions import authenticated
from artifact_plane.pagination import encode_cursor

Info = strawberry.Info[ApiContext, None]


async def resolve_artifact(info: Info, id: strawberry.ID) -> Artifact | None:
    record = await info.context.scoped().get_meta(str(id))
    return Artifact.from_record(record)


async def resolve_artifacts(
    info: Info,
    filter_: Annotated[ArtifactFilter | None, strawberry.argument(name="filter")] = None,
    first: int | None = None,
    after: str | None = None,
) -> ArtifactConnection:
    wanted = filter_ or ArtifactFilter()
    page = await info.context.scoped().list_artifacts(
        realm=wanted.realm,
        artifact_type=wanted.artifact_type,
        status=[s.value for s in wanted.status or ()],
        tags=wanted.tags or (),
        uri=wanted.uri,
        min_version=wanted.min_version,
        created_after=wanted.created_after,
        created_before=wanted.created_before,
        execution_id=wanted.execution_id,
        limit=first,
        cursor=after,
    )
    edges = [
        ArtifactEdge(cursor=encode_cursor(r.created_at, r.artifact_id), node=Artifact.from_record(r))
        for r in page.items
    ]
    # Items policy hid still move the cursor on, so a page with more after it ends at next_cursor.
    end = page.next_cursor or (edges[-1].cursor if edges else after)
    return ArtifactConnection(
        edges=edges, page_info=PageInfo(has_next_page=page.next_cursor is not None, end_cursor=end)
    )


@strawberry.type
class ArtifactQueries:
    artifact: Artifact | None = strawberry.field(
        resolver=resolve_artifact,
        extensions=[authenticated()],
        description="One artifact's metadata. NOT_FOUND when it does not exist or is not yours to see.",
    )
    artifacts: ArtifactConnection = strawberry.field(
        resolver=resolve_artifacts,
        extensions=[authenticated()],
        description="A page of the artifacts you may read, oldest first.",
    )
