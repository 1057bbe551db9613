"""``SqlLineageStore``: lineage edges in the registry database's ``lineage_edges`` table."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ARRAY, ColumnElement, Connection, Select, String, any_, bindparam, func, or_, select

from artifact_plane.adapters.sql.engine import SqlDatabase
from artifact_plane.adapters.sql.lineage_cte import CteTimeout, traverse_cte
from artifact_plane.adapters.sql.rows import chunked, close_edges_touching, insert_open_edges, to_edge
from artifact_plane.adapters.sql.tables import lineage_edges
from artifact_plane.errors import InvalidInputError
from artifact_plane.lineage_walk import drive, walk_steps
from artifact_plane.models import LineageEdge, LineageGraph, LineageNode, NodeKind
from artifact_plane.ports.lineage import Direction, LineageStore

__all__ = ["SqlLineageStore"]

e = lineage_edges.c


class SqlLineageStore(LineageStore):
    """Lineage on SQLite or PostgreSQL, sharing the registry's database.

    ``SqlRegistry.insert_artifact`` writes a record's edges into the same
    table in the record's transaction; this store reads them. Traversal is
    the port's level-by-level walk (one :meth:`neighbors` query per level),
    or on PostgreSQL a recursive CTE, which ``make bench`` measured faster
    at every depth.

    Args:
        database: the engine shared with ``SqlRegistry``.
        traversal: ``"auto"`` (the CTE where it answers exactly, else the
            walk) or ``"walk"`` (always the walk; the bench's comparison).
    """

    def __init__(self, database: SqlDatabase, *, traversal: str = "auto") -> None:
        if traversal not in {"auto", "walk"}:
            raise InvalidInputError("traversal", f"{traversal!r} is not auto or walk")
        self.database = database
        self.traversal = traversal

    def __repr__(self) -> str:
        return f"SqlLineageStore({self.database!r})"

    async def initialize(self) -> None:
        """Create or migrate the schema (the registry's; safe to call again)."""
        await self.database.initialize()

    async def add_edges(self, edges: Sequence[LineageEdge]) -> None:
        if edges:
            await self.database.run(lambda conn: insert_open_edges(conn, edges), write=True)

    async def close_edges(self, tenant: str, node_ids: Sequence[str], at: datetime) -> int:
        if not node_ids:
            return 0
        return await self.database.run(
            lambda conn: close_edges_touching(conn, tenant, node_ids, at), write=True
        )

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
        if not frontier or (limit_per_node is not None and limit_per_node <= 0):
            return []

        def work(conn: Connection) -> list[LineageEdge]:
            return _neighbors(conn, tenant, frontier, direction, as_of, limit_per_node)

        return await self.database.run(work, write=False)

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
        """The port's level-by-level walk, run whole in one read transaction.

        One worker-thread hop and one snapshot for the whole answer: no
        per-level thread hop or connection checkout, and an edge closed while
        the walk runs cannot give a mixed answer.
        """
        # PostgreSQL runs a recursive CTE faster than per-level queries (make bench);
        # it answers exactly as the walk when no fan-out limit is asked and
        # max_nodes does not cut (otherwise the walk decides what is kept).
        use_cte = (
            self.traversal == "auto"
            and self.database.dialect == "postgresql"
            and fanout_limit is None
            and direction is not Direction.BOTH
            and (timeout is None or timeout > 0)
        )

        def work(conn: Connection) -> LineageGraph:
            started = time.monotonic()
            if use_cte:
                try:
                    graph = traverse_cte(
                        conn,
                        tenant,
                        start,
                        direction,
                        depth=depth,
                        max_nodes=max_nodes,
                        as_of=as_of,
                        start_kind=start_kind,
                        timeout=timeout,
                        neighbors=_neighbors,
                    )
                except CteTimeout:
                    graph = LineageGraph(
                        root=start,
                        nodes=(LineageNode(id=start, kind=start_kind),),
                        edges=(),
                        is_partial=True,
                        truncated_by=("timeout",),
                    )
                if graph is not None:
                    return graph
            remaining = None if timeout is None else max(0.0, timeout - (time.monotonic() - started))
            walk = walk_steps(
                start,
                direction,
                depth=depth,
                max_nodes=max_nodes,
                fanout_limit=fanout_limit,
                start_kind=start_kind,
                timeout=remaining,
            )
            return drive(
                walk,
                lambda way, frontier, per_node: _neighbors(conn, tenant, frontier, way, as_of, per_node),
            )

        return await self.database.run(work, write=False)

    async def ping(self) -> None:
        await self.database.ping()

    async def close(self) -> None:
        await self.database.dispose()


def _neighbors(
    conn: Connection,
    tenant: str,
    frontier: Sequence[str],
    direction: Direction,
    as_of: datetime | None,
    limit_per_node: int | None,
) -> list[LineageEdge]:
    if conn.dialect.name == "postgresql":
        # One array parameter, whatever the frontier's size: no chunking, and one
        # statement text for the server and SQLAlchemy to cache.
        stmt = _neighbors_query(tenant, frontier, direction, as_of, limit_per_node, as_array=True)
        return [to_edge(row) for row in conn.execute(stmt).mappings()]
    found: list[LineageEdge] = []
    # One query for the frontier; only a frontier past CHUNK ids takes more.
    for chunk in chunked(frontier):
        stmt = _neighbors_query(tenant, chunk, direction, as_of, limit_per_node)
        found.extend(to_edge(row) for row in conn.execute(stmt).mappings())
    found.sort(key=lambda edge: (edge.created_at, edge.key))  # across chunks, as within one
    return found


def _neighbors_query(
    tenant: str,
    node_ids: Sequence[str],
    direction: Direction,
    as_of: datetime | None,
    limit_per_node: int | None,
    *,
    as_array: bool = False,
) -> Select[Any]:
    near = e.source_id if direction is Direction.DOWNSTREAM else e.target_id
    match = (
        near == any_(bindparam("frontier", list(node_ids), type_=ARRAY(String)))
        if as_array
        else near.in_(node_ids)
    )
    where: list[ColumnElement[bool]] = [e.tenant_id == tenant, match]
    if as_of is None:
        where.append(e.closed_at.is_(None))
    else:
        where += [e.created_at <= as_of, or_(e.closed_at.is_(None), e.closed_at > as_of)]
    if limit_per_node is None:
        return select(lineage_edges).where(*where).order_by(e.created_at, e.edge_key)
    # Oldest limit_per_node edges of each near node, ranked in the database.
    rank = func.row_number().over(partition_by=near, order_by=(e.created_at, e.edge_key)).label("rank")
    ranked = select(lineage_edges, rank).where(*where).subquery("ranked")
    r = ranked.c
    return (
        select(*(r[column.name] for column in lineage_edges.columns))
        .where(r.rank <= limit_per_node)
        .order_by(r.created_at, r.edge_key)
    )
