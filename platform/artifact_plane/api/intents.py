"""Running an intent from the API: the seam the realm services plug into.

Realm services (issue 7) are not wired into the API yet. ``runIntent`` asks
the app's :class:`IntentRunner`; without one every realm is unknown and the
client gets ``INVALID_INPUT`` on the field ``realm``. Wiring realms later
means passing a runner to :func:`artifact_plane.api.app.create_app`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from artifact_plane.errors import InvalidInputError
from artifact_plane.models import Execution
from artifact_plane.scoped import ScopedPlane


class IntentRunner(Protocol):
    """Runs ``intent`` in ``realm`` as the caller; returns the finished execution."""

    async def run_intent(
        self, me: ScopedPlane, realm: str, intent: str, inputs: Mapping[str, Any]
    ) -> Execution:
        """Raises: InvalidInputError (unknown realm or intent), plus the plane's errors."""
        ...


def unknown_realm(realm: str) -> InvalidInputError:
    """The error for a realm no runner knows (INVALID_INPUT, field ``realm``)."""
    return InvalidInputError(
        "realm",
        f"unknown realm {realm!r}: no realm service is registered with this server "
        "(realm services are not wired into the API yet)",
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
