"""Checks around a handler run: the inputs it is given and the result it returns."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from artifact_plane.errors import InvalidInputError
from artifact_plane.helpers import resolve_artifact
from artifact_plane.models import ArtifactRecord, ArtifactStatus
from artifact_plane.operators.context import OperatorContext
from artifact_plane.operators.manifest import OperatorManifest
from artifact_plane.operators.schemas import check

if TYPE_CHECKING:
    from artifact_plane.scoped import ScopedPlane

__all__ = ["HandlerResultError", "check_result", "resolve_inputs"]


class HandlerResultError(Exception):
    """A handler returned something other than IDs of artifacts it wrote."""


async def resolve_inputs(
    scoped: ScopedPlane, manifest: OperatorManifest, given: Mapping[str, object]
) -> dict[str, ArtifactRecord]:
    """The named inputs resolved (readable by the realm, ready, of the declared types).

    Raises:
        InvalidInputError: unknown, missing, not ready or wrongly typed inputs.
        NotFoundError: an input does not exist in this tenant.
        PolicyDeniedError: the realm may not read an input.
    """
    if not isinstance(given, Mapping):
        raise InvalidInputError("inputs", "give a mapping of input name to artifact ID or artifact:// name")
    unknown = sorted(set(given) - set(manifest.inputs))
    if unknown:
        declared = ", ".join(manifest.inputs) or "none"
        raise InvalidInputError(
            f"inputs.{unknown[0]}", f"{manifest.ref} takes no such input (it takes: {declared})"
        )
    missing = [name for name, spec in manifest.inputs.items() if spec.required and name not in given]
    if missing:
        raise InvalidInputError(f"inputs.{missing[0]}", f"{manifest.ref} needs this input")
    records: dict[str, ArtifactRecord] = {}
    for name, ref in given.items():
        record = await resolve_artifact(scoped, ref)
        spec = manifest.inputs[name]
        if record.artifact_type != spec.artifact_type:
            raise InvalidInputError(
                f"inputs.{name}",
                f"{record.artifact_id} is a {record.artifact_type}; "
                f"{manifest.ref} needs a {spec.artifact_type}",
            )
        if record.status is not ArtifactStatus.READY:
            raise InvalidInputError(
                f"inputs.{name}",
                f"{record.artifact_id} is {record.status.value}, not ready (wait_for_artifact first)",
            )
        records[name] = record
    return records


def check_result(ctx: OperatorContext, returned: object) -> dict[str, str | list[str]]:
    """The handler's result must be a dict of IDs of artifacts this execution wrote."""
    if not isinstance(returned, dict):
        raise HandlerResultError(f"handlers return a dict of artifact IDs, got {type(returned).__name__}")
    written = set(ctx.produced)
    outputs: dict[str, str | list[str]] = {}
    for name, value in returned.items():
        ids = value if isinstance(value, list) else [value]
        for art_id in ids:
            if not isinstance(art_id, str) or art_id not in written:
                shown = repr(art_id)[:60]
                raise HandlerResultError(
                    f"output {name!r} is {shown}, not the ID of an artifact this execution wrote "
                    "(return the IDs ctx.write gives back, never data)"
                )
        outputs[str(name)] = value
    check(ctx.operator.output_schema, outputs, "outputs")
    return outputs
