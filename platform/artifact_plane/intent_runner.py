"""The seam the API plugs realm services into: ``runIntent``, ``stale``, ``staleCauses``, ``regenerate``.

:class:`PlaneIntentRunner` has the shape of ``api.intents.IntentRunner``
(``run_intent(me, realm, intent, inputs) -> Execution``), so the app can be
given ``intents=PlaneIntentRunner.from_settings(settings)``. GraphQL's one
``inputs`` JSON object is read either as ``{"inputs": {...}, "params":
{...}}`` or flat, where keys the operator declares as inputs are artifact
references and every other key is a param.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from artifact_plane.errors import InvalidInputError
from artifact_plane.executions import Executions, SubjectExecutions
from artifact_plane.models import Execution
from artifact_plane.operators.registry import OperatorRegistry
from artifact_plane.settings import Settings

if TYPE_CHECKING:
    from artifact_plane.scoped import ScopedPlane
    from artifact_plane.staleness import StaleCause

__all__ = ["PlaneIntentRunner", "split_inputs"]

STRUCTURED = {"inputs", "params"}


def split_inputs(
    registry: OperatorRegistry, realm: str, intent: str, given: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(inputs, params)`` from one JSON object (structured or flat, see the module docstring).

    Raises:
        InvalidInputError: ``inputs`` / ``params`` are not objects.
        NotFoundError: no operator serves the intent in the realm.
    """
    if given and set(given) <= STRUCTURED:
        inputs, params = given.get("inputs", {}), given.get("params", {})
        if not isinstance(inputs, Mapping) or not isinstance(params, Mapping):
            raise InvalidInputError("inputs", "'inputs' and 'params' must be JSON objects")
        return dict(inputs), dict(params)
    declared = registry.find(realm, intent).inputs
    return (
        {k: v for k, v in given.items() if k in declared},
        {k: v for k, v in given.items() if k not in declared},
    )


class PlaneIntentRunner:
    """Runs intents for the API's scoped callers with one discovered operator registry."""

    def __init__(self, operators: OperatorRegistry) -> None:
        self.operators = operators

    @classmethod
    def from_settings(cls, settings: Settings) -> PlaneIntentRunner:
        """Discover the builtin operators, the realms' and ``AP_OPERATOR_DIRS`` (once, at start)."""
        return cls(OperatorRegistry.from_settings(settings))

    def _runner(self, me: ScopedPlane) -> SubjectExecutions:
        return Executions(me._plane, self.operators).for_subject(me.subject)

    async def run_intent(
        self, me: ScopedPlane, realm: str, intent: str, inputs: Mapping[str, Any]
    ) -> Execution:
        """Run and return the finished execution (``failed`` with its error when the handler failed).

        Raises:
            InvalidInputError / NotFoundError / PolicyDeniedError: a bad or
                refused request; nothing was written.
        """
        refs, params = split_inputs(self.operators, realm, intent, inputs)
        return (await self._runner(me).run_intent(realm, intent, refs, params)).execution

    async def stale_causes(self, me: ScopedPlane, artifact_id: str) -> list[StaleCause]:
        """Why ``artifact_id`` is stale (empty: fresh). GraphQL ``stale`` is ``bool(staleCauses)``."""
        return await self._runner(me).stale_causes(artifact_id)

    async def regenerate(self, me: ScopedPlane, artifact_id: str) -> Execution:
        """Re-run what produced ``artifact_id`` with current inputs and operator; the new execution."""
        return (await self._runner(me).regenerate(artifact_id)).execution
