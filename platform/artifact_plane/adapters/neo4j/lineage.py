"""``Neo4jLineageStore``: lineage edges in Neo4j (the official driver's async API).

Writes are ``MERGE`` for nodes and a guarded ``CREATE`` for relationships, so
adding an edge twice is one edge; closing sets ``closed_at`` (relationships
are never updated otherwise, history stays queryable with ``as_of``).

Traversal is the port's level-by-level walk (:mod:`artifact_plane.lineage_walk`),
one parameterised Cypher query per level, run whole inside one managed read
transaction: a variable-length Cypher pattern cannot stop at a per-node
fan-out limit or a node budget the way the walk does, and enumerates every
path of a diamond-shaped graph.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from urllib.parse import unquote, urlparse

from neo4j import AsyncDriver, AsyncGraphDatabase, AsyncManagedTransaction, unit_of_work

from artifact_plane.adapters.neo4j import queries
from artifact_plane.adapters.neo4j.errors import TransactionTimedOut, translate_errors
from artifact_plane.errors import ConfigurationError, InvalidInputError
from artifact_plane.lineage_walk import walk_steps
from artifact_plane.models import EdgeKind, LineageEdge, LineageGraph, LineageNode, NodeKind
from artifact_plane.ports.lineage import Direction, LineageStore

__all__ = ["Neo4jLineageStore"]

SCHEMES = {"neo4j", "neo4j+s", "neo4j+ssc", "bolt", "bolt+s", "bolt+ssc"}


class Neo4jLineageStore(LineageStore):
    """Lineage in Neo4j.

    Args:
        uri: ``neo4j://host:7687`` (routing) or ``bolt://host:7687`` (one server).
        auth: ``(user, password)``, or None for a server without authentication.
        database: the database name (None: the server's default).
        driver_options: more ``AsyncGraphDatabase.driver`` settings
            (``connection_timeout``, ``max_transaction_retry_time``, ...).
    """

    def __init__(
        self,
        uri: str,
        *,
        auth: tuple[str, str] | None = None,
        database: str | None = None,
        **driver_options: Any,
    ) -> None:
        self.uri = uri
        self.database = database
        self._auth = auth
        driver_options.setdefault("connection_timeout", 10.0)
        driver_options.setdefault("max_transaction_retry_time", 15.0)
        self._options = driver_options
        self._driver: AsyncDriver | None = None
        self._ready = False
        self._lock = asyncio.Lock()

    @classmethod
    def from_url(cls, url: str) -> Neo4jLineageStore:
        """``neo4j://user:pw@host:7687/database`` (``bolt://`` and the ``+s`` schemes too).

        Raises:
            ConfigurationError: the URL has no host or an unknown scheme.
        """
        parsed = urlparse(url)
        if parsed.scheme not in SCHEMES or not parsed.hostname:
            raise ConfigurationError("AP_LINEAGE_URL", f"{url!r}: use neo4j://user:pw@host:7687/database")
        host = f"[{parsed.hostname}]" if ":" in parsed.hostname else parsed.hostname
        auth = None
        if parsed.username:
            auth = (unquote(parsed.username), unquote(parsed.password or ""))
        database = unquote(parsed.path.strip("/")) or None
        return cls(f"{parsed.scheme}://{host}:{parsed.port or 7687}", auth=auth, database=database)

    def __repr__(self) -> str:
        return f"Neo4jLineageStore({self.uri!r}, database={self.database!r})"

    # -- plumbing ------------------------------------------------------------------

    async def _session_driver(self) -> AsyncDriver:
        async with self._lock:
            if self._driver is None:
                with translate_errors():
                    self._driver = AsyncGraphDatabase.driver(self.uri, auth=self._auth, **self._options)
            if not self._ready:
                with translate_errors():
                    async with self._driver.session(database=self.database) as session:
                        for statement in queries.CONSTRAINTS:
                            await (await session.run(statement)).consume()
                self._ready = True
        return self._driver

    async def _write(self, work: Any) -> Any:
        driver = await self._session_driver()
        with translate_errors():
            async with driver.session(database=self.database) as session:
                return await session.execute_write(work)

    async def _read(self, work: Any) -> Any:
        driver = await self._session_driver()
        with translate_errors():
            async with driver.session(database=self.database) as session:
                return await session.execute_read(work)

    async def initialize(self) -> None:
        """Create the constraints and indexes when missing."""
        await self._session_driver()

    # -- writes ----------------------------------------------------------------

    async def add_edges(self, edges: Sequence[LineageEdge]) -> None:
        opening: dict[tuple[str, str], LineageEdge] = {}
        closed: list[LineageEdge] = []
        for edge in edges:
            if edge.closed_at is None:
                opening.setdefault((edge.tenant_id, edge.key), edge)  # the first of a key wins
            else:
                closed.append(edge)
        batches = [
            queries.add_edges(kind, [edge for edge in group if edge.kind is kind])
            for group in (list(opening.values()), closed)
            for kind in EdgeKind
            if any(edge.kind is kind for edge in group)
        ]
        if not batches:
            return

        async def work(tx: AsyncManagedTransaction) -> None:
            for text, params in batches:
                await (await tx.run(text, params)).consume()

        await self._write(work)

    async def close_edges(self, tenant: str, node_ids: Sequence[str], at: datetime) -> int:
        wanted = list(dict.fromkeys(node_ids))
        if not wanted:
            return 0
        text, params = queries.close_edges(tenant, wanted, at)

        async def work(tx: AsyncManagedTransaction) -> int:
            record = await (await tx.run(text, params)).single(strict=True)
            return int(record["closed"])

        closed: int = await self._write(work)
        return closed

    # -- reads -----------------------------------------------------------------

    @staticmethod
    async def _neighbors(
        tx: AsyncManagedTransaction,
        tenant: str,
        frontier: Sequence[str],
        direction: Direction,
        as_of: datetime | None,
        limit_per_node: int | None,
    ) -> list[LineageEdge]:
        if not frontier or (limit_per_node is not None and limit_per_node <= 0):
            return []
        text, params = queries.neighbors(tenant, frontier, direction, as_of, limit_per_node)
        rows = await (await tx.run(text, params)).data()
        found = [queries.from_row(row) for row in rows]
        found.sort(key=lambda edge: (edge.created_at, edge.key))
        return found

    async def neighbors(
        self,
        tenant: str,
        node_ids: Sequence[str],
        direction: Direction,
        *,
        as_of: datetime | None = None,
        limit_per_node: int | None = None,
    ) -> list[LineageEdge]:
        if direction is Direction.BOTH:
            raise InvalidInputError("direction", "neighbors takes upstream or downstream, not both")
        frontier = list(dict.fromkeys(node_ids))

        async def work(tx: AsyncManagedTransaction) -> list[LineageEdge]:
            return await self._neighbors(tx, tenant, frontier, direction, as_of, limit_per_node)

        found: list[LineageEdge] = await self._read(work)
        return found

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
        """The level-by-level walk, one Cypher query per level, in one read transaction."""

        async def work(tx: AsyncManagedTransaction) -> LineageGraph:
            steps = walk_steps(
                start,
                direction,
                depth=depth,
                max_nodes=max_nodes,
                fanout_limit=fanout_limit,
                start_kind=start_kind,
                timeout=timeout,
            )
            try:
                way, frontier, per_node = next(steps)
                while True:
                    found = await self._neighbors(tx, tenant, frontier, way, as_of, per_node)
                    way, frontier, per_node = steps.send(found)
            except StopIteration as done:
                graph: LineageGraph = done.value
                return graph

        if timeout is not None and timeout > 0:
            # The server stops the transaction too, should one level's query run long.
            work = unit_of_work(timeout=timeout + 1.0)(work)
        try:
            graph: LineageGraph = await self._read(work)
        except TransactionTimedOut:
            node = LineageNode(id=start, kind=start_kind)
            return LineageGraph(
                root=start, nodes=(node,), edges=(), is_partial=True, truncated_by=("timeout",)
            )
        return graph

    async def ping(self) -> None:
        driver = await self._session_driver()
        with translate_errors():
            await driver.verify_connectivity()

    async def close(self) -> None:
        if self._driver is not None:
            driver, self._driver, self._ready = self._driver, None, False
            with translate_errors():
                await driver.close()
