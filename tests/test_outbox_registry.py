"""The registry contract over ``SqlRegistry(outbox=True)``: edges reach the graph only through the relay.

``lineage_of`` hands the contract a store that first lets a real relay
deliver the outbox to a memory graph store, then reads that graph: every
edge check of the contract then holds for the outbox path end to end
(record and edges committed together, delivered, closed on delete).
SQLite only: the outbox on PostgreSQL (its per-tenant commit order included)
is exercised in ``test_outbox.py``, which keeps this suite's time down.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from pathlib import Path

import pytest

from artifact_plane.adapters.memory import MemoryLineageStore
from artifact_plane.adapters.sql import SqlDatabase, SqlDecisionLog, SqlRegistry
from artifact_plane.adapters.sql.outbox import SqlOutbox
from artifact_plane.models import LineageEdge
from artifact_plane.ports.decisions import DecisionLog
from artifact_plane.ports.lineage import Direction, LineageStore
from artifact_plane.ports.registry import Registry
from artifact_plane.relay import OutboxRelay
from tests.contracts.registry_contract import RegistryContract

UNREACHABLE_URL = f"sqlite:///{Path(__file__).resolve().parent}"  # a directory: not a database


class RelayedGraph(LineageStore):
    """The graph the relay delivers to; every read first drains the outbox with a real relay."""

    def __init__(self, database: SqlDatabase) -> None:
        self.graph = MemoryLineageStore()
        self.relay = OutboxRelay(SqlOutbox(database), self.graph)

    async def add_edges(self, edges: Sequence[LineageEdge]) -> None:
        await self.graph.add_edges(edges)

    async def close_edges(self, tenant: str, node_ids: Sequence[str], at: datetime) -> int:
        await self.relay.drain()
        return await self.graph.close_edges(tenant, node_ids, at)

    async def neighbors(
        self,
        tenant: str,
        node_ids: Sequence[str],
        direction: Direction,
        *,
        as_of: datetime | None = None,
        limit_per_node: int | None = None,
    ) -> list[LineageEdge]:
        await self.relay.drain()
        return await self.graph.neighbors(
            tenant, node_ids, direction, as_of=as_of, limit_per_node=limit_per_node
        )


class TestOutboxRegistry(RegistryContract):
    @pytest.fixture
    async def registry(self, tmp_path: Path) -> AsyncIterator[Registry]:
        registry = SqlRegistry(SqlDatabase(f"sqlite:///{tmp_path / 'registry.db'}"), outbox=True)
        await registry.initialize()
        yield registry
        await registry.close()

    def lineage_of(self, registry: Registry) -> LineageStore | None:
        assert isinstance(registry, SqlRegistry)
        graphs: dict[int, RelayedGraph] = self.__dict__.setdefault("_graphs", {})
        return graphs.setdefault(id(registry), RelayedGraph(registry.database))

    def decision_log_of(self, registry: Registry) -> DecisionLog | None:
        assert isinstance(registry, SqlRegistry)
        return SqlDecisionLog(registry.database)

    async def unreachable_registry(self) -> Registry | None:
        return SqlRegistry(SqlDatabase(UNREACHABLE_URL), outbox=True)

    def batch_insert_is_atomic(self) -> bool:
        return True
