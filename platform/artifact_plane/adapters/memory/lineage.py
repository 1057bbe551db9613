"""In-memory lineage store: edge rows per tenant, closed rather than ever updated."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from artifact_plane.errors import InvalidInputError
from artifact_plane.models import LineageEdge
from artifact_plane.ports.lineage import Direction, LineageStore

__all__ = ["MemoryLineageStore"]


class _TenantEdges:
    """One tenant's edge rows (history included) and their indexes."""

    def __init__(self) -> None:
        self.rows: list[LineageEdge] = []
        self.open: dict[str, int] = {}  # edge key -> row index of the open row
        self.by_source: dict[str, list[int]] = defaultdict(list)
        self.by_target: dict[str, list[int]] = defaultdict(list)


class MemoryLineageStore(LineageStore):
    """Lineage edges in memory; ``traverse`` is the port's level-wise walk.

    Every write holds :attr:`lock`. :class:`~artifact_plane.adapters.memory.MemoryRegistry`
    takes the same lock and calls the ``*_locked`` methods, so a record and its
    edges are written together, as one transaction would.
    """

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self._tenants: dict[str, _TenantEdges] = {}

    async def add_edges(self, edges: Sequence[LineageEdge]) -> None:
        """Add edges; an edge whose key is already open is a no-op."""
        async with self.lock:
            self.add_edges_locked(edges)

    def add_edges_locked(self, edges: Sequence[LineageEdge]) -> None:
        """:meth:`add_edges` for a caller that already holds :attr:`lock`."""
        for edge in edges:
            table = self._tenants.setdefault(edge.tenant_id, _TenantEdges())
            if edge.key in table.open:
                continue
            index = len(table.rows)
            table.rows.append(edge)
            table.by_source[edge.source_id].append(index)
            table.by_target[edge.target_id].append(index)
            if edge.closed_at is None:
                table.open[edge.key] = index

    async def close_edges(self, tenant: str, node_ids: Sequence[str], at: datetime) -> int:
        """Close every open edge touching ``node_ids`` at ``at``; return how many."""
        async with self.lock:
            return self.close_edges_locked(tenant, node_ids, at)

    def close_edges_locked(self, tenant: str, node_ids: Sequence[str], at: datetime) -> int:
        """:meth:`close_edges` for a caller that already holds :attr:`lock`."""
        table = self._tenants.get(tenant)
        if table is None:
            return 0
        ids = set(node_ids)
        touching = [
            (key, index)
            for key, index in table.open.items()
            if table.rows[index].source_id in ids or table.rows[index].target_id in ids
        ]
        for key, index in touching:
            table.rows[index] = table.rows[index].model_copy(update={"closed_at": at})
            del table.open[key]
        return len(touching)

    async def neighbors(
        self,
        tenant: str,
        node_ids: Sequence[str],
        direction: Direction,
        *,
        as_of: datetime | None = None,
        limit_per_node: int | None = None,
    ) -> list[LineageEdge]:
        """Edges one step from ``node_ids``, open at ``as_of``, oldest first per node.

        Raises:
            InvalidInputError: ``direction`` is BOTH (walk each way instead).
        """
        if direction is Direction.BOTH:
            raise InvalidInputError("direction", "neighbors takes upstream or downstream, not both")
        table = self._tenants.get(tenant)
        if table is None:
            return []
        index = table.by_source if direction is Direction.DOWNSTREAM else table.by_target
        found: list[LineageEdge] = []
        for near in dict.fromkeys(node_ids):
            edges = sorted(
                (table.rows[i] for i in index.get(near, ()) if table.rows[i].open_at(as_of)),
                key=lambda e: (e.created_at, e.key),
            )
            found.extend(edges if limit_per_node is None else edges[: max(limit_per_node, 0)])
        found.sort(key=lambda e: (e.created_at, e.key))
        return found
