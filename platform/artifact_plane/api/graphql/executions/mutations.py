"""Mutations of the executions area: ``runIntent``."""

from __future__ import annotations

import strawberry
from strawberry.scalars import JSON

from artifact_plane.api.graphql.context import ApiContext
from artifact_plane.api.graphql.executions.types import Execution
from artifact_plane.api.graphql.permissions import authenticated
from artifact_plane.api.intents import run_intent
from artifact_plane.errors import InvalidInputError

Info = strawberry.Info[ApiContext, None]


@strawberry.input(description="An intent for a realm service, with its inputs (artifact IDs, values).")
class RunIntentInput:
    realm: str
    intent: str
    inputs: JSON = strawberry.field(default_factory=dict)


async def resolve_run_intent(info: Info, input: RunIntentInput) -> Execution:
    if not isinstance(input.inputs, dict):
        raise InvalidInputError("inputs", "must be a JSON object")
    me = info.context.scoped()
    execution = await run_intent(info.context.intents, me, input.realm, input.intent, dict(input.inputs))
    return Execution.from_model(execution)


@strawberry.type
class ExecutionMutations:
    run_intent: Execution | None = strawberry.mutation(
        resolver=resolve_run_intent,
        extensions=[authenticated()],
        description="Run an intent in a realm. Until realm services are wired into the API, every "
        "realm is unknown (INVALID_INPUT on `realm`).",
    )
