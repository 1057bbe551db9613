"""The GraphQL schema: composes the areas and the limits, nothing else."""

from __future__ import annotations

import strawberry
from strawberry.extensions import MaxTokensLimiter, QueryDepthLimiter

from artifact_plane.api.graphql.artifacts.mutations import ArtifactMutations
from artifact_plane.api.graphql.artifacts.queries import ArtifactQueries
from artifact_plane.api.graphql.artifacts.subscriptions import ArtifactSubscriptions
from artifact_plane.api.graphql.errors import PlaneErrors, PlaneSchema
from artifact_plane.api.graphql.executions.mutations import ExecutionMutations
from artifact_plane.api.graphql.executions.queries import ExecutionQueries
from artifact_plane.api.graphql.lineage.mutations import LineageMutations
from artifact_plane.api.graphql.lineage.queries import LineageQueries
from artifact_plane.api.graphql.metrics import OperationMetrics
from artifact_plane.api.graphql.policy.queries import PolicyQueries
from artifact_plane.settings import Settings


@strawberry.type
class Query(ArtifactQueries, LineageQueries, ExecutionQueries, PolicyQueries):
    pass


@strawberry.type
class Mutation(ArtifactMutations, LineageMutations, ExecutionMutations):
    pass


@strawberry.type
class Subscription(ArtifactSubscriptions):
    pass


def build_schema(settings: Settings | None = None) -> PlaneSchema:
    """A fresh schema with the limits of ``settings`` (cheap; the app builds one per app)."""
    settings = settings or Settings(_env_file=None)
    tokens, depth = settings.max_query_tokens, settings.max_query_depth
    return PlaneSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=[
            # Factories: strawberry makes one extension per operation (no state shared across requests).
            lambda: MaxTokensLimiter(max_token_count=tokens),
            lambda: QueryDepthLimiter(max_depth=depth),
            OperationMetrics,
            PlaneErrors,
        ],
    )


def schema_sdl() -> str:
    """The schema as SDL text, ending in one newline (what schema.graphql holds)."""
    return build_schema().as_str().rstrip("\n") + "\n"
