"""The GraphQL schema: composes the areas and the limits, nothing else."""

from __future__ import annotations

import strawberry
from strawberry.extensions import AddValidationRules, MaxTokensLimiter, ValidationCache
from strawberry.extensions.query_depth_limiter import create_validator

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

DOCUMENT_CACHE_SIZE = 512


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
    tokens = settings.max_query_tokens
    # strawberry's QueryDepthLimiter rule, built once: a new rule class per request would make every
    # request a ValidationCache miss (the rules are part of its key).
    depth_rule = create_validator(settings.max_query_depth, should_ignore=None)
    return PlaneSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=[
            # Factories: strawberry makes one extension per operation (no state shared across requests).
            lambda: MaxTokensLimiter(max_token_count=tokens),
            lambda: AddValidationRules([depth_rule]),
            # Clients repeat the same documents: validate each once (only documents that passed the
            # limits reach validation). No ParserCache: its syntax errors escape the error codes.
            lambda: ValidationCache(maxsize=DOCUMENT_CACHE_SIZE),
            OperationMetrics,
            PlaneErrors,
        ],
    )


def schema_sdl() -> str:
    """The schema as SDL text, ending in one newline (what schema.graphql holds)."""
    return build_schema().as_str().rstrip("\n") + "\n"
