"""Staleness and regeneration of artifacts produced by operators.

An artifact is stale when

* an input its execution consumed has a newer ``ready`` version
  (``input_updated``: the same ``artifact://`` name, a higher version),
* its operator's newest version is not the one that ran
  (``operator_changed``), or the operator is gone (``operator_missing``),
* an input is itself stale (``upstream_stale``), so a change propagates.

``regenerate(id)`` replays the recorded invocation: same realm, intent and
params, each named input at its newest ready version, the operator at its
newest version. Named outputs get their next version.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from artifact_plane.errors import InvalidInputError, NotFoundError
from artifact_plane.ids import SemVer, validate_id
from artifact_plane.models import ArtifactRecord, ArtifactStatus, Execution
from artifact_plane.operators.registry import split_ref

if TYPE_CHECKING:
    from artifact_plane.executions import RunResult, SubjectExecutions

__all__ = ["MAX_UPSTREAM", "StaleCause", "regenerate", "stale_causes"]

MAX_UPSTREAM = 50  # artifact hops followed when looking for stale inputs


@dataclass(frozen=True)
class StaleCause:
    """One reason an artifact is stale. ``detail`` is a sentence for people."""

    kind: str  # input_updated | operator_changed | operator_missing | upstream_stale
    detail: str
    input_id: str | None = None
    newer_id: str | None = None
    operator: str | None = None
    current_operator: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


async def _execution(runner: SubjectExecutions, record: ArtifactRecord) -> Execution | None:
    if record.execution_id is None:
        return None
    try:
        return await runner.plane.registry.get_execution(record.tenant_id, record.execution_id)
    except NotFoundError:
        return None  # linked by create_artifact(execution_id=...) alone: nothing recorded to compare


def _operator_causes(runner: SubjectExecutions, execution: Execution) -> list[StaleCause]:
    if not execution.operator:
        return []
    operator_id, ran = split_ref(execution.operator)
    newest = runner.operators.newest(operator_id)
    if newest is None:
        return [
            StaleCause(
                "operator_missing",
                f"operator {operator_id} is no longer installed (it ran {execution.operator})",
                operator=execution.operator,
            )
        ]
    if ran is not None and newest.semver != ran:
        return [
            StaleCause(
                "operator_changed",
                f"operator {operator_id} is now {newest.version} (it ran {ran})",
                operator=execution.operator,
                current_operator=newest.ref,
            )
        ]
    return []


async def _newer_version(runner: SubjectExecutions, record: ArtifactRecord) -> ArtifactRecord | None:
    if record.uri is None or record.version is None:
        return None
    consumed = SemVer.parse(record.version)
    history = await runner.plane.registry.list_versions(record.tenant_id, record.uri)
    newer = [
        r
        for r in history
        if r.status is ArtifactStatus.READY and r.version is not None and SemVer.parse(r.version) > consumed
    ]
    return newer[-1] if newer else None


async def _causes(
    runner: SubjectExecutions, record: ArtifactRecord, memo: dict[str, list[StaleCause]], depth: int
) -> list[StaleCause]:
    if record.artifact_id in memo:
        return memo[record.artifact_id]
    memo[record.artifact_id] = []  # a cycle (impossible by construction) ends here
    execution = await _execution(runner, record)
    if execution is None:
        return []
    causes = _operator_causes(runner, execution)
    inputs = await runner.plane.registry.get_many(record.tenant_id, list(execution.inputs))
    readable = await runner.plane.authz.decide(
        runner.subject, "read", [r.resource() for r in inputs.values()]
    )
    for (input_id, consumed), decision in zip(inputs.items(), readable, strict=True):
        newer = await _newer_version(runner, consumed)
        if newer is not None:
            if decision.allow:
                causes.append(
                    StaleCause(
                        "input_updated",
                        f"input {consumed.uri} {consumed.version} has a newer ready version {newer.version}",
                        input_id=input_id,
                        newer_id=newer.artifact_id,
                    )
                )
            else:
                causes.append(StaleCause("input_updated", "an input you may not read has a newer version"))
        elif depth < MAX_UPSTREAM and await _causes(runner, consumed, memo, depth + 1):
            shown = input_id if decision.allow else None
            what = f"input {consumed.uri or input_id}" if decision.allow else "an input you may not read"
            causes.append(StaleCause("upstream_stale", f"{what} is itself stale", input_id=shown))
    memo[record.artifact_id] = causes
    return causes


async def stale_causes(runner: SubjectExecutions, artifact_id: str) -> list[StaleCause]:
    """Why ``artifact_id`` is stale; empty when fresh (or not produced by an operator).

    Raises:
        NotFoundError: no such artifact.
        PolicyDeniedError: you may not read it.
    """
    record = await runner.me.get_meta(validate_id(artifact_id))
    return await _causes(runner, record, {}, 0)


async def regenerate(runner: SubjectExecutions, artifact_id: str, *, upstream: bool = False) -> RunResult:
    """Re-run the recorded execution that produced ``artifact_id`` with current inputs.

    With ``upstream``, stale regenerable inputs are regenerated first (depth
    first), so the replay consumes refreshed inputs; the first failed
    upstream run is returned instead.

    Raises:
        NotFoundError: no such artifact, or a named input no longer has a
            ready version.
        InvalidInputError: the artifact is not regenerable or was not
            produced by ``run_intent``.
        PolicyDeniedError: you may not read it or run its intent.
    """
    record = await runner.me.get_meta(validate_id(artifact_id))
    if not record.regenerable:
        raise InvalidInputError(
            "artifact_id",
            f"{artifact_id} is not regenerable (only outputs of operators with regenerable: true are); "
            "run its intent again instead",
        )
    execution = await _execution(runner, record)
    invocations = (
        await runner.plane.registry.get_many(record.tenant_id, list(execution.inputs)) if execution else {}
    )
    found = [r for r in invocations.values() if r.artifact_type == "invocation"]
    if execution is None or not found:
        raise InvalidInputError(
            "artifact_id",
            f"{artifact_id} has no recorded invocation to replay (it was not made by run_intent)",
        )
    loaded = await runner.me.get_artifact(found[0].artifact_id, include_payload=True)
    invocation = json.loads(loaded.text())
    inputs: dict[str, str] = {}
    for name, entry in invocation["inputs"].items():
        # A named input is replayed at its newest ready version; an unnamed one as it was.
        inputs[name] = entry["uri"] if entry.get("uri") else entry["id"]
    if upstream:
        for name, entry in invocation["inputs"].items():
            current = await runner.me.resolve_uri(entry["uri"]) if entry.get("uri") else None
            current_id = current.artifact_id if current is not None else entry["id"]
            current_record = current or await runner.me.get_meta(current_id)
            if current_record.regenerable and await stale_causes(runner, current_id):
                refreshed = await regenerate(runner, current_id, upstream=True)
                if not refreshed.ok:
                    return refreshed
                inputs[name] = entry["uri"] if entry.get("uri") else _first(refreshed)
    operator_id, _ = split_ref(invocation["operator"])
    return await runner.run_intent(
        invocation["realm"],
        operator_id,
        inputs,
        invocation["params"],
        context={**invocation.get("context", {}), "regenerates": artifact_id},
    )


def _first(result: RunResult) -> str:
    """The one output of a replayed unnamed input (unnamed outputs get new IDs, not versions)."""
    for value in result.outputs.values():
        return value if isinstance(value, str) else value[0]
    raise InvalidInputError("artifact_id", "the regenerated input produced no output")
