"""The plane's periodic sweeps while ``serve`` runs: TTL expiry and abandoned executions.

Without them a TTL would only run out when someone runs ``artifact-plane gc``.
Payload garbage collection stays with ``gc``: it scans the whole store.
Every API replica may run a loop; the registry's sweeps take disjoint
batches, so they share the work.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from artifact_plane.errors import ArtifactPlaneError
from artifact_plane.plane import ArtifactPlane

logger = logging.getLogger(__name__)


class Maintenance:
    """Runs :meth:`sweep` every ``interval`` seconds until stopped; a failed pass is logged and retried."""

    def __init__(self, plane: ArtifactPlane, *, interval: float) -> None:
        self.plane = plane
        self.interval = interval
        self.passes = 0
        self.expired = 0
        self.abandoned = 0
        self.failures = 0

    async def sweep(self) -> tuple[int, int]:
        """One pass: ``(artifacts expired, executions failed as abandoned)``."""
        expired = await self.plane.sweep_ttl()
        abandoned = len(await self.plane.sweep_abandoned_executions())
        self.expired += expired
        self.abandoned += abandoned
        self.passes += 1
        return expired, abandoned

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.sweep()
            except ArtifactPlaneError as exc:
                self.failures += 1
                logger.warning("maintenance sweep failed, will retry: %s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.interval)
