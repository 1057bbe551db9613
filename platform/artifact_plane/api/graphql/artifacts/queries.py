"""Queries of the artifacts area: by ID, by name, pages, versions, and waiting."""

from __future__ import annotations

from typing import Annotated

import strawberry

from artifact_plane.api.graphql.artifacts.types import (
    Artifact,
    ArtifactConnection,
    ArtifactEdge,
    ArtifactFilter,
)
from artifact_plane.api.graphql.common import PageInfo, check_first
from artifact_plane.api.graphql.context import ApiContext
from artifact_plane.api.graphql.permissions import authenticated
from artifact_plane.errors import InvalidInputError
from artifact_plane.pagination import encode_cursor

Info = strawberry.Info[ApiContext, None]


async def resolve_artifact(info: Info, id: strawberry.ID) -> Artifact:
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
        limit=check_first(first, info.context.settings),
        cursor=after,
    )
    edges = [
        ArtifactEdge(cursor=encode_cursor(r.created_at, r.artifact_id), node=Artifact.from_record(r))
        for r in page.items
    ]
    # Items policy hid still move the cursor on, so a page with more after it ends at next_cursor.
    end = page.next_cursor or (edges[-1].cursor if edges else after)
    return ArtifactConnection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=page.next_cursor is not None,
            end_cursor=end,
            has_previous_page=after is not None,
            start_cursor=edges[0].cursor if edges else None,
        ),
    )


async def resolve_artifact_by_uri(info: Info, uri: str, version: str | None = None) -> Artifact:
    me = info.context.scoped()
    return Artifact.from_record(await me.resolve_uri(uri, version=version))


async def resolve_versions(info: Info, uri: str) -> list[Artifact]:
    return [Artifact.from_record(r) for r in await info.context.scoped().versions(uri)]


async def resolve_wait_for_artifact(info: Info, id: strawberry.ID, timeout_seconds: float = 30.0) -> Artifact:
    limit = info.context.settings.max_wait_seconds
    if not 0 <= timeout_seconds <= limit:
        raise InvalidInputError(
            "timeoutSeconds", f"{timeout_seconds:g} must be between 0 and {limit:g} (AP_MAX_WAIT_SECONDS)"
        )
    record = await info.context.scoped().wait_for_artifact(str(id), timeout=timeout_seconds)
    return Artifact.from_record(record)


@strawberry.type
class ArtifactQueries:
    artifact: Artifact | None = strawberry.field(
        resolver=resolve_artifact,
        extensions=[authenticated()],
        description="One artifact's metadata. NOT_FOUND when it does not exist or is not yours to see.",
    )
    artifacts: ArtifactConnection | None = strawberry.field(
        resolver=resolve_artifacts,
        extensions=[authenticated()],
        description="A page of the artifacts you may read, oldest first.",
    )
    artifact_by_uri: Artifact | None = strawberry.field(
        resolver=resolve_artifact_by_uri,
        extensions=[authenticated()],
        description="What a name points at: its newest ready version, or `version`.",
    )
    versions: list[Artifact] | None = strawberry.field(
        resolver=resolve_versions,
        extensions=[authenticated()],
        description="Every version of a name you may read, oldest first.",
    )
    wait_for_artifact: Artifact | None = strawberry.field(
        resolver=resolve_wait_for_artifact,
        extensions=[authenticated()],
        description="Returns once the artifact is no longer pending; DEADLINE_EXCEEDED after the timeout.",
    )
