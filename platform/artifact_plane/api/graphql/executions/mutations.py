"""Mutations of the executions area: ``runIntent``, ``regenerate``."""

from __future__ import annotations

import strawberry
from strawberry.scalars import JSON

from artifact_plane.api.graphql.context import ApiContext
from artifact_plane.api.graphql.executions.types import Execution
from artifact_plane.api.graphql.permissions import authenticated
from artifact_plane.api.intents import run_intent, unknown_realm
from artifact_plane.errors import InvalidInputError
from artifact_plane.ids import validate_id

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


async def resolve_regenerate(info: Info, id: strawberry.ID) -> Execution:
    artifact_id = validate_id(str(id), "id")
    me = info.context.scoped()
    if info.context.intents is None:
        raise unknown_realm((await me.get_meta(artifact_id)).realm)
    return Execution.from_model(await info.context.intents.regenerate(me, artifact_id))


@strawberry.type
class ExecutionMutations:
    run_intent: Execution | None = strawberry.mutation(
        resolver=resolve_run_intent,
        extensions=[authenticated()],
        description="Run an intent of a realm service with its inputs (artifact IDs) and params, as "
        "the caller; returns the finished execution (`status` FAILED with `error` when the handler "
        "failed). `inputs` is `{inputs: {...}, params: {...}}` or one flat object.",
    )
    regenerate: Execution | None = strawberry.mutation(
        resolver=resolve_regenerate,
        extensions=[authenticated()],
        description="Re-run the execution that produced an artifact, with the newest ready version "
        "of each input and the operator's newest version; returns the new execution.",
    )
