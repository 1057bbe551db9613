"""The lineage outbox in the registry database, and the store that writes through it.

When lineage lives in a graph database, :class:`SqlRegistry` (``outbox=True``)
writes a record's edge operations with :func:`enqueue_adds` /
:func:`enqueue_close` in the record's own transaction; :class:`SqlOutbox` hands
them to the relay in commit order. :class:`OutboxLineageStore` is what the plane
sees as its lineage store: writes go through the same outbox (so one relay
applies every write to the graph, in one order), reads go to the graph.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, func, insert, or_, select, text, update

from artifact_plane.adapters.sql.engine import SqlDatabase
from artifact_plane.adapters.sql.rows import insert_ignoring
from artifact_plane.adapters.sql.tables import lineage_outbox, lineage_outbox_lease
from artifact_plane.models import LineageEdge, LineageGraph, NodeKind, utcnow
from artifact_plane.ports.lineage import Direction, LineageStore
from artifact_plane.ports.outbox import Outbox, OutboxEntry, OutboxOp

__all__ = ["OutboxLineageStore", "SqlOutbox", "enqueue_adds", "enqueue_close"]

o = lineage_outbox.c
LEASE = "lineage-relay"
_ERROR_CHARS = 2000


def _tenant_lock_key(tenant: str) -> int:
    # A stable signed 64-bit key per tenant for pg_advisory_xact_lock.
    return int.from_bytes(hashlib.sha256(f"ap-outbox:{tenant}".encode()).digest()[:8], "big", signed=True)


def _serialize_per_tenant(conn: Connection, tenants: Sequence[str]) -> None:
    """Make outbox ids follow commit order within each tenant (PostgreSQL).

    A sequence hands out ids at insert time, not commit time, so two
    concurrent transactions could commit ids 11 then 10. The relay reads
    "undelivered, by id" and would apply a tenant's operations out of order.
    Holding a per-tenant lock until commit makes id order commit order per
    tenant (SQLite has one writer at a time already).
    """
    if conn.dialect.name != "postgresql":
        return
    for tenant in sorted(set(tenants)):  # one order for every transaction: no deadlock
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _tenant_lock_key(tenant)})


def _iso(at: datetime) -> str:
    return at.isoformat()


def enqueue_adds(conn: Connection, edges: Sequence[LineageEdge], *, now: datetime | None = None) -> int:
    """Write one ``add`` entry per edge in the caller's transaction; return how many."""
    if not edges:
        return 0
    _serialize_per_tenant(conn, [edge.tenant_id for edge in edges])
    created = now or utcnow()
    rows = [
        {
            "tenant_id": edge.tenant_id,
            "op": OutboxOp.ADD.value,
            "payload": {"edge": edge.model_dump(mode="json")},
            "created_at": created,
            "attempts": 0,
        }
        for edge in edges
    ]
    conn.execute(insert(lineage_outbox), rows)
    return len(rows)


def enqueue_close(
    conn: Connection, tenant: str, node_ids: Sequence[str], at: datetime, *, now: datetime | None = None
) -> int:
    """Write one ``close`` entry in the caller's transaction; return 1 (0 for no nodes)."""
    wanted = list(dict.fromkeys(node_ids))
    if not wanted:
        return 0
    _serialize_per_tenant(conn, [tenant])
    row = {
        "tenant_id": tenant,
        "op": OutboxOp.CLOSE.value,
        "payload": {"node_ids": wanted, "at": _iso(at)},
        "created_at": now or utcnow(),
        "attempts": 0,
    }
    conn.execute(insert(lineage_outbox), row)
    return 1


def _entry(row: Any) -> OutboxEntry:
    payload = row.payload
    op = OutboxOp(row.op)
    if op is OutboxOp.ADD:
        edge = LineageEdge.model_validate(payload["edge"])
        return OutboxEntry(row.id, row.tenant_id, op, edge=edge, attempts=row.attempts)
    return OutboxEntry(
        row.id,
        row.tenant_id,
        op,
        node_ids=tuple(payload["node_ids"]),
        at=datetime.fromisoformat(payload["at"]),
        attempts=row.attempts,
        last_error=row.last_error,
    )


class SqlOutbox(Outbox):
    """The ``lineage_outbox`` table of the registry database.

    Args:
        database: the registry's database (the same :class:`SqlDatabase`).
        clock: now, for leases and delivery times (tests pass their own).
    """

    def __init__(self, database: SqlDatabase, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.database = database
        self.clock = clock

    def __repr__(self) -> str:
        return f"SqlOutbox({self.database!r})"

    async def acquire_lease(self, holder: str, seconds: float) -> bool:
        now = self.clock()
        until = now + timedelta(seconds=seconds)
        lease = lineage_outbox_lease.c

        def work(conn: Connection) -> bool:
            row = {"name": LEASE, "holder": holder, "expires_at": until}
            if insert_ignoring(conn, lineage_outbox_lease, [row], index_elements=["name"]):
                return True
            taken = conn.execute(
                update(lineage_outbox_lease)
                .where(lease.name == LEASE, or_(lease.holder == holder, lease.expires_at <= now))
                .values(holder=holder, expires_at=until)
            )
            return taken.rowcount == 1

        return await self.database.run(work, write=True)

    async def release_lease(self, holder: str) -> None:
        lease = lineage_outbox_lease.c
        stmt = delete(lineage_outbox_lease).where(lease.name == LEASE, lease.holder == holder)
        await self.database.run(lambda conn: conn.execute(stmt), write=True)

    async def pending(self, limit: int) -> list[OutboxEntry]:
        if limit <= 0:
            return []
        stmt = select(lineage_outbox).where(o.delivered_at.is_(None)).order_by(o.id).limit(limit)
        return await self.database.run(lambda conn: [_entry(r) for r in conn.execute(stmt)], write=False)

    async def mark_delivered(self, entry_ids: Sequence[int], at: datetime) -> None:
        if not entry_ids:
            return
        stmt = update(lineage_outbox).where(o.id.in_(list(entry_ids))).values(delivered_at=at)
        await self.database.run(lambda conn: conn.execute(stmt), write=True)

    async def record_failure(self, entry_ids: Sequence[int], error: str) -> None:
        if not entry_ids:
            return
        stmt = (
            update(lineage_outbox)
            .where(o.id.in_(list(entry_ids)), o.delivered_at.is_(None))
            .values(attempts=o.attempts + 1, last_error=error[:_ERROR_CHARS])
        )
        await self.database.run(lambda conn: conn.execute(stmt), write=True)

    async def backlog(self) -> int:
        stmt = select(func.count()).select_from(lineage_outbox).where(o.delivered_at.is_(None))
        return await self.database.run(lambda conn: int(conn.execute(stmt).scalar_one()), write=False)

    async def purge_delivered(self, before: datetime) -> int:
        stmt = delete(lineage_outbox).where(o.delivered_at.is_not(None), o.delivered_at < before)
        return await self.database.run(lambda conn: int(conn.execute(stmt).rowcount), write=True)


class OutboxLineageStore(LineageStore):
    """Lineage in a graph store, written through the registry database's outbox.

    ``add_edges`` and ``close_edges`` commit outbox entries; the relay applies
    them to ``graph`` in commit order, so a write is visible to reads once
    relayed (``serve`` runs the relay and wakes it on every write here).
    Reads go to ``graph``.

    Args:
        outbox: the registry database's outbox.
        graph: the store the relay delivers to (Arango, Neo4j, memory).
    """

    def __init__(self, outbox: SqlOutbox, graph: LineageStore) -> None:
        self.outbox = outbox
        self.graph = graph
        self.listeners: list[Callable[[], None]] = []

    def __repr__(self) -> str:
        return f"OutboxLineageStore({self.outbox!r} -> {self.graph!r})"

    def _written(self) -> None:
        for listener in list(self.listeners):
            listener()

    async def add_edges(self, edges: Sequence[LineageEdge]) -> None:
        if edges:
            await self.outbox.database.run(lambda conn: enqueue_adds(conn, edges), write=True)
            self._written()

    async def close_edges(self, tenant: str, node_ids: Sequence[str], at: datetime) -> int:
        """Queue the close; return how many edges it will close as the graph stands now."""
        if not node_ids:
            return 0
        touching: set[str] = set()
        for way in (Direction.DOWNSTREAM, Direction.UPSTREAM):
            touching.update(edge.key for edge in await self.graph.neighbors(tenant, node_ids, way))
        await self.outbox.database.run(lambda conn: enqueue_close(conn, tenant, node_ids, at), write=True)
        self._written()
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
        return await self.graph.neighbors(
            tenant, node_ids, direction, as_of=as_of, limit_per_node=limit_per_node
        )

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
        return await self.graph.traverse(
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
        await self.graph.ping()

    async def close(self) -> None:
        await self.graph.close()
