"""Mutations of the artifacts area: create, write a version, change status or retention, delete."""

from __future__ import annotations

import strawberry

from artifact_plane.api.graphql.artifacts.types import (
    Artifact,
    ArtifactStatusEnum,
    CreateArtifactInput,
    CreateArtifactPayload,
    DeleteArtifactPayload,
    WriteArtifactInput,
    WriteArtifactPayload,
    WriteMode,
)
from artifact_plane.api.graphql.common import inline_payload
from artifact_plane.api.graphql.context import ApiContext
from artifact_plane.api.graphql.permissions import authenticated
from artifact_plane.errors import InvalidInputError

Info = strawberry.Info[ApiContext, None]


async def create_artifact(info: Info, input: CreateArtifactInput) -> CreateArtifactPayload:
    data = inline_payload(input.text, input.base64)
    me = info.context.scoped()
    if input.uri is None:
        if input.version is not None or input.mode is not WriteMode.UPSERT:
            raise InvalidInputError("uri", "version and mode apply to named writes: give a uri")
        artifact_id = await me.create_artifact(
            data,
            artifact_type=input.artifact_type,
            content_type=input.content_type,
            realm=input.realm,
            tags=input.tags,
            status=input.status.value,
        )
    else:
        if input.realm is not None:
            raise InvalidInputError("realm", "a named write takes its realm from the uri")
        artifact_id = await me.write(
            input.uri,
            data,
            mode=input.mode.value,
            version=input.version,
            artifact_type=input.artifact_type,
            content_type=input.content_type,
            tags=input.tags,
            status=input.status.value,
        )
    return CreateArtifactPayload(artifact_id=strawberry.ID(artifact_id))


async def write_artifact(info: Info, input: WriteArtifactInput) -> WriteArtifactPayload:
    data = inline_payload(input.text, input.base64)
    me = info.context.scoped()
    artifact_id = await me.write(
        input.uri,
        data,
        mode=input.mode.value,
        version=input.version,
        artifact_type=input.artifact_type,
        content_type=input.content_type,
        tags=input.tags,
    )
    record = await me.get_meta(artifact_id)
    return WriteArtifactPayload(artifact_id=strawberry.ID(artifact_id), artifact=Artifact.from_record(record))


async def set_artifact_status(info: Info, id: strawberry.ID, status: ArtifactStatusEnum) -> Artifact:
    record = await info.context.scoped().set_status(str(id), status.value)
    return Artifact.from_record(record)


async def set_retention(
    info: Info,
    artifact_id: strawberry.ID,
    retention_policy: str | None = strawberry.UNSET,
    ttl: int | None = strawberry.UNSET,
) -> Artifact:
    # UNSET (argument left out) keeps a value; an explicit null clears it.
    record = await info.context.scoped().set_retention(
        str(artifact_id),
        retention_policy=... if retention_policy is strawberry.UNSET else retention_policy,
        ttl=... if ttl is strawberry.UNSET else ttl,
    )
    return Artifact.from_record(record)


async def delete_artifact(info: Info, id: strawberry.ID) -> DeleteArtifactPayload:
    record = await info.context.scoped().delete_artifact(str(id))
    return DeleteArtifactPayload(artifact_id=strawberry.ID(record.artifact_id), deleted_at=record.updated_at)


@strawberry.type
class ArtifactMutations:
    create_artifact: CreateArtifactPayload | None = strawberry.mutation(
        resolver=create_artifact,
        extensions=[authenticated()],
        description="Store a small inline payload and register it. With `uri`, writes a new version "
        "of that name. Larger payloads: PUT /api/artifact (multipart, streamed).",
    )
    write_artifact: WriteArtifactPayload | None = strawberry.mutation(
        resolver=write_artifact,
        extensions=[authenticated()],
        description="Write a new version of a name (mode UPSERT or FAIL_IF_EXISTS).",
    )
    set_artifact_status: Artifact | None = strawberry.mutation(
        resolver=set_artifact_status,
        extensions=[authenticated()],
        description="pending → ready | failed, ready → expired; INVALID_INPUT for any other move.",
    )
    set_retention: Artifact | None = strawberry.mutation(
        resolver=set_retention,
        extensions=[authenticated()],
        description="Change how long an artifact is kept (stewards only): `retentionPolicy` and/or "
        "`ttl` (seconds from creation; expiresAt follows). Leave one out to keep it, null clears it. "
        "INVALID_INPUT for an expired or failed artifact.",
    )
    delete_artifact: DeleteArtifactPayload | None = strawberry.mutation(
        resolver=delete_artifact,
        extensions=[authenticated()],
        description="Delete a record (stewards only); its payload goes at the next GC when nothing "
        "else uses it.",
    )
