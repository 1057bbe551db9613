"""The lineage outbox port: edge operations written with their record, delivered later.

When lineage lives outside the registry database (ArangoDB, Neo4j), the
registry cannot write a record and its edges in one transaction. It writes
the edge *operations* into an outbox in the record's transaction instead; a
relay (:mod:`artifact_plane.relay`) reads them in order, applies them to the
graph store and marks them delivered.
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from artifact_plane.models import LineageEdge

__all__ = ["Outbox", "OutboxEntry", "OutboxOp"]


class OutboxOp(enum.StrEnum):
    ADD = "add"  # add one edge (a no-op when its key is open)
    CLOSE = "close"  # close every open edge touching ``node_ids`` at ``at``


@dataclass(frozen=True)
class OutboxEntry:
    """One pending edge operation, in the order it was committed (``entry_id``)."""

    entry_id: int
    tenant_id: str
    op: OutboxOp
    edge: LineageEdge | None = None
    node_ids: tuple[str, ...] = ()
    at: datetime | None = None
    attempts: int = 0
    last_error: str | None = field(default=None, compare=False)


class Outbox(abc.ABC):
    """Where pending edge operations wait for the relay.

    Within a tenant, entries come back in commit order; a relay holding the
    lease is the only one delivering, so order is kept across replicas.
    """

    @abc.abstractmethod
    async def acquire_lease(self, holder: str, seconds: float) -> bool:
        """Take (or renew) the delivery lease for ``seconds``; False when another holder has it.

        Raises:
            BackendUnavailableError: the database cannot be reached.
        """

    @abc.abstractmethod
    async def release_lease(self, holder: str) -> None:
        """Give the lease up (when ``holder`` has it), so another relay need not wait it out."""

    @abc.abstractmethod
    async def pending(self, limit: int) -> list[OutboxEntry]:
        """Up to ``limit`` undelivered entries, oldest first.

        Raises:
            BackendUnavailableError: the database cannot be reached.
        """

    @abc.abstractmethod
    async def mark_delivered(self, entry_ids: Sequence[int], at: datetime) -> None:
        """Record that ``entry_ids`` reached the graph store.

        Raises:
            BackendUnavailableError: the database cannot be reached.
        """

    @abc.abstractmethod
    async def record_failure(self, entry_ids: Sequence[int], error: str) -> None:
        """Count a failed delivery attempt of ``entry_ids`` and keep the error for operators."""

    @abc.abstractmethod
    async def backlog(self) -> int:
        """How many entries wait for delivery."""

    @abc.abstractmethod
    async def purge_delivered(self, before: datetime) -> int:
        """Delete entries delivered before ``before``; return how many."""
