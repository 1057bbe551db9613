"""The lineage store port: execution→artifact and artifact→execution edges."""

from __future__ import annotations

import abc
import enum
from collections.abc import Sequence
from datetime import datetime

from artifact_plane.models import LineageEdge, LineageGraph, NodeKind


class Direction(enum.StrEnum):
    UPSTREAM = "upstream"
    DOWNSTREAM = "downstream"
    BOTH = "both"


class LineageStore(abc.ABC):
    """Where lineage edges live (the SQL registry's table, ArangoDB, Neo4j, memory)."""

    @abc.abstractmethod
    async def add_edges(self, edges: Sequence[LineageEdge]) -> None:
        """Add edges; an edge already open (same kind, source, target) is a no-op.

        Raises:
            BackendUnavailableError: the store cannot be reached.
        """

    @abc.abstractmethod
    async def close_edges(self, tenant: str, node_ids: Sequence[str], at: datetime) -> int:
        """Close every open edge touching ``node_ids`` at ``at``; return how many."""

    @abc.abstractmethod
    async def neighbors(
        self,
        tenant: str,
        node_ids: Sequence[str],
        direction: Direction,
        *,
        as_of: datetime | None = None,
        limit_per_node: int | None = None,
    ) -> list[LineageEdge]:
        """Edges one step from ``node_ids`` in ``direction`` (not BOTH), open at ``as_of``.

        ``limit_per_node`` caps the edges returned per node (oldest first), so
        a caller can detect fan-out beyond a limit by asking for limit + 1.

        Raises:
            InvalidInputError: ``direction`` is BOTH (walk each way instead).
            BackendUnavailableError: the store cannot be reached.
        """

    async def traverse(
        self,
        tenant: str,
        start: str,
        direction: Direction,
        *,
        depth: int,
        max_nodes: int,
        fanout_limit: int | None = None,
        as_of: datetime | None = None,
        start_kind: NodeKind = NodeKind.ARTIFACT,
        timeout: float | None = None,
    ) -> LineageGraph:
        """Walk from ``start``; adapters with a native traversal override this.

        ``depth`` counts artifact hops (artifact → execution → artifact is
        one). The answer is ``is_partial`` when ``max_nodes``,
        ``fanout_limit`` or ``timeout`` cut it short; the requested depth
        does not. ``BOTH`` is the union of the upstream and downstream walks.
        """
        from artifact_plane.lineage_walk import walk

        return await walk(
            self,
            tenant,
            start,
            direction,
            depth=depth,
            max_nodes=max_nodes,
            fanout_limit=fanout_limit,
            as_of=as_of,
            start_kind=start_kind,
            timeout=timeout,
        )

    async def ping(self) -> None:
        """Check the store answers (Raises: BackendUnavailableError)."""

    async def close(self) -> None:
        """Release connections."""
