"""Mutations of the artifacts area: ``createArtifact``."""

from __future__ import annotations

import base64
import binascii

import strawberry

from artifact_plane.api.graphql.artifacts.types import CreateArtifactInput, CreateArtifactPayload, WriteMode
from artifact_plane.api.graphql.context import ApiContext
from artifact_plane.api.graphql.permissions import authenticated
from artifact_plane.errors import InvalidInputError

Info = strawberry.Info[ApiContext, None]


def _payload(given: CreateArtifactInput) -> bytes | str:
    if (given.text is None) == (given.base64 is None):
        raise InvalidInputError("input", "give exactly one of text and base64")
    if given.text is not None:
        return given.text
    assert given.base64 is not None
    try:
        return base64.b64decode(given.base64, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInputError("base64", "is not valid base64 (standard alphabet, padded)") from None


async def create_artifact(info: Info, input: CreateArtifactInput) -> CreateArtifactPayload:
    data = _payload(input)
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
        )
    return CreateArtifactPayload(artifact_id=strawberry.ID(artifact_id))


@strawberry.type
class ArtifactMutations:
    create_artifact: CreateArtifactPayload = strawberry.mutation(
        resolver=create_artifact,
        extensions=[authenticated()],
        description="Store a payload and register it. With `uri`, writes a new version of that name.",
    )
