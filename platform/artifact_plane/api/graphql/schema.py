"""The GraphQL schema: composes the areas, nothing else."""

from __future__ import annotations

import strawberry

from artifact_plane.api.graphql.artifacts.mutations import ArtifactMutations
from artifact_plane.api.graphql.artifacts.queries import ArtifactQueries
from artifact_plane.api.graphql.errors import PlaneErrors, PlaneSchema
from artifact_plane.api.graphql.lineage.queries import LineageQueries


@strawberry.type
class Query(ArtifactQueries, LineageQueries):
    pass


@strawberry.type
class Mutation(ArtifactMutations):
    pass


def build_schema() -> PlaneSchema:
    """A fresh schema (cheap; the app builds one, ``schema export`` prints one)."""
    return PlaneSchema(query=Query, mutation=Mutation, extensions=[PlaneErrors])


def schema_sdl() -> str:
    """The schema as SDL text, ending in one newline (what schema.graphql holds)."""
    return build_schema().as_str().rstrip("\n") + "\n"
