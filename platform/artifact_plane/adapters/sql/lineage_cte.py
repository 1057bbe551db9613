"""A whole lineage walk as one recursive CTE, for PostgreSQL.

Measured by ``make bench`` (PostgreSQL section): a recursive CTE returning the
reached nodes, followed by one query for their edges, beats the per-level
walk at every depth on PostgreSQL. It gives the same answer as the walk
whenever no limit cuts it; when ``max_nodes`` would cut, the caller falls back
to the walk, which decides exactly what is kept.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, String, and_, cast, func, literal, or_, select, text
from sqlalchemy.exc import DBAPIError

from artifact_plane.adapters.sql.tables import lineage_edges
from artifact_plane.lineage_walk import max_steps
from artifact_plane.models import LineageEdge, LineageGraph, LineageNode, NodeKind
from artifact_plane.ports.lineage import Direction

TIMED_OUT = "57014"  # PostgreSQL's query_canceled, raised by statement_timeout


class CteTimeout(Exception):
    """The CTE ran past its time; the caller answers partially instead."""


def reached_nodes(
    conn: Connection,
    tenant: str,
    start: str,
    direction: Direction,
    *,
    steps: int,
    cap: int,
    as_of: datetime | None,
) -> dict[str, int] | None:
    """Each node reachable within ``steps`` edges and its fewest steps; None past ``cap`` nodes."""
    e = lineage_edges.alias("e")
    downstream = direction is Direction.DOWNSTREAM
    near, far = (e.c.source_id, e.c.target_id) if downstream else (e.c.target_id, e.c.source_id)
    if as_of is None:
        in_force: Any = e.c.closed_at.is_(None)
    else:
        in_force = and_(e.c.created_at <= as_of, or_(e.c.closed_at.is_(None), e.c.closed_at > as_of))
    # Cast to the column's own type: it carries the ID collation ("C" on PostgreSQL),
    # which both terms of a recursive CTE must share.
    seed = select(cast(literal(start, String), far.type).label("node"), literal(0).label("step"))
    reach = seed.cte("reach", recursive=True)
    step_back = reach.alias("r")
    reach = reach.union(
        select(far, step_back.c.step + 1)
        .join_from(step_back, e, and_(e.c.tenant_id == tenant, near == step_back.c.node, in_force))
        .where(step_back.c.step < steps)
    )
    fewest = select(reach.c.node, func.min(reach.c.step).label("step")).group_by(reach.c.node).limit(cap + 1)
    rows = conn.execute(fewest).all()
    if len(rows) > cap:
        return None
    return {row.node: row.step for row in rows}


def traverse_cte(
    conn: Connection,
    tenant: str,
    start: str,
    direction: Direction,
    *,
    depth: int,
    max_nodes: int,
    as_of: datetime | None,
    start_kind: NodeKind,
    timeout: float | None,
    neighbors: Any,
) -> LineageGraph | None:
    """The walk's answer in two queries; None when ``max_nodes`` would cut it.

    ``neighbors(conn, tenant, frontier, direction, as_of, per_node)`` is the
    store's one-level query, reused for the edges of the reached nodes.

    Raises:
        CteTimeout: ``timeout`` ran out (PostgreSQL cancelled the statement).
    """
    steps = max_steps(depth, start_kind)
    if steps == 0:
        return LineageGraph(root=start, nodes=(LineageNode(id=start, kind=start_kind),), edges=())
    savepoint = conn.begin_nested()
    try:
        if timeout is not None:
            milliseconds = max(1, math.ceil(timeout * 1000))
            conn.execute(text(f"SET LOCAL statement_timeout = {milliseconds:d}"))  # an int we computed
        reached = reached_nodes(conn, tenant, start, direction, steps=steps, cap=max_nodes, as_of=as_of)
        if reached is None:
            savepoint.rollback()
            return None
        expand = [node for node, step in reached.items() if step <= steps - 1]
        found: list[LineageEdge] = neighbors(conn, tenant, expand, direction, as_of, None) if expand else []
        savepoint.commit()
    except DBAPIError as exc:
        savepoint.rollback()
        if getattr(exc.orig, "sqlstate", None) == TIMED_OUT:
            raise CteTimeout from exc
        raise
    downstream = direction is Direction.DOWNSTREAM
    nodes: dict[str, LineageNode] = {start: LineageNode(id=start, kind=start_kind, depth=0)}
    edges: dict[str, LineageEdge] = {}
    for edge in sorted(found, key=lambda item: (reached[_near(item, downstream)], item.created_at, item.key)):
        far, far_kind = (
            (edge.target_id, edge.target_kind) if downstream else (edge.source_id, edge.source_kind)
        )
        if far not in nodes:
            nodes[far] = LineageNode(id=far, kind=far_kind, depth=(reached[far] + 1) // 2)
        edges[edge.key] = edge
    return LineageGraph(root=start, nodes=tuple(nodes.values()), edges=tuple(edges.values()))


def _near(edge: LineageEdge, downstream: bool) -> str:
    return edge.source_id if downstream else edge.target_id
