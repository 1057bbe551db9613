"""Running an intent from the API: the seam the realm services plug into.

``runIntent``, ``Artifact.stale``/``staleCauses`` and ``regenerate`` ask the
app's :class:`IntentRunner`; :func:`artifact_plane.api.app.create_app` gives
it one over the discovered operators
(:class:`artifact_plane.intent_runner.PlaneIntentRunner`). Without a runner
every realm is unknown (``INVALID_INPUT`` on the field ``realm``) and nothing
is stale.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from artifact_plane.errors import InvalidInputError
from artifact_plane.models import Execution
from artifact_plane.scoped import ScopedPlane
from artifact_plane.staleness import StaleCause


class IntentRunner(Protocol):
    """Runs ``intent`` in ``realm`` as the caller; returns the finished execution."""

    async def run_intent(
        self, me: ScopedPlane, realm: str, intent: str, inputs: Mapping[str, Any]
    ) -> Execution:
        """Raises: InvalidInputError (unknown realm or intent), plus the plane's errors."""
        ...

    async def stale_causes(self, me: ScopedPlane, artifact_id: str) -> Sequence[StaleCause]:
        """Why the artifact is stale; empty when it is fresh."""
        ...

    async def regenerate(self, me: ScopedPlane, artifact_id: str) -> Execution:
        """Re-run what produced the artifact with current inputs and operator; the new execution."""
        ...


def unknown_realm(realm: str) -> InvalidInputError:
    """The error for a realm no runner knows (INVALID_INPUT, field ``realm``)."""
    return InvalidInputError(
        "realm",
        f"unknown realm {realm!r}: no realm service is registered with this server "
        "(this server runs no realm services)",
    )


async def run_intent(
    runner: IntentRunner | None, me: ScopedPlane, realm: str, intent: str, inputs: Mapping[str, Any]
) -> Execution:
    """Run through ``runner``, or refuse every realm when there is none.

    Raises:
        InvalidInputError: unknown realm (always, until a runner is wired).
    """
    if runner is None:
        raise unknown_realm(realm)
    return await runner.run_intent(me, realm, intent, inputs)
