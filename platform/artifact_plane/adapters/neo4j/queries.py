"""Cypher for the Neo4j lineage store: fixed texts, every value a ``$parameter``.

Labels and relationship types cannot be parameters in Cypher, so each edge
kind and direction has its own fixed text, chosen by enum (never by input).

Data model: ``(:Artifact {tenant_id, id})`` and ``(:Execution {tenant_id, id})``
nodes, unique per ``(tenant_id, id)``; ``(:Execution)-[:PRODUCED]->(:Artifact)``
and ``(:Artifact)-[:CONSUMED_BY]->(:Execution)`` relationships carrying
``tenant_id``, ``edge_key``, ``created_at`` and, once closed, ``closed_at``
(UTC text of fixed width, so comparing text compares time).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from artifact_plane.models import EdgeKind, LineageEdge
from artifact_plane.ports.lineage import Direction

__all__ = [
    "CONSTRAINTS",
    "Query",
    "add_edges",
    "close_edges",
    "from_row",
    "neighbors",
    "timestamp",
]

Query = tuple[str, dict[str, Any]]
NO_LIMIT = 2**31 - 1

CONSTRAINTS = (
    "CREATE CONSTRAINT ap_artifact_id IF NOT EXISTS FOR (n:Artifact) REQUIRE (n.tenant_id, n.id) IS UNIQUE",
    "CREATE CONSTRAINT ap_execution_id IF NOT EXISTS FOR (n:Execution) REQUIRE (n.tenant_id, n.id) IS UNIQUE",
    "CREATE INDEX ap_produced_open IF NOT EXISTS FOR ()-[r:PRODUCED]-() ON (r.tenant_id, r.edge_key)",
    "CREATE INDEX ap_consumed_open IF NOT EXISTS FOR ()-[r:CONSUMED_BY]-() ON (r.tenant_id, r.edge_key)",
)

# MERGE makes the nodes idempotently; the relationship is created only when no
# open one of the same key exists (an edge added twice is one edge).
_ADD = {
    EdgeKind.PRODUCED: """
UNWIND $edges AS e
MERGE (s:Execution {tenant_id: e.tenant_id, id: e.source_id})
MERGE (t:Artifact {tenant_id: e.tenant_id, id: e.target_id})
WITH s, t, e
OPTIONAL MATCH (s)-[current:PRODUCED]->(t) WHERE current.closed_at IS NULL
WITH s, t, e, count(current) AS already
WHERE already = 0
CREATE (s)-[:PRODUCED {tenant_id: e.tenant_id, edge_key: e.edge_key,
                       created_at: e.created_at, closed_at: e.closed_at}]->(t)
""",
    EdgeKind.CONSUMED_BY: """
UNWIND $edges AS e
MERGE (s:Artifact {tenant_id: e.tenant_id, id: e.source_id})
MERGE (t:Execution {tenant_id: e.tenant_id, id: e.target_id})
WITH s, t, e
OPTIONAL MATCH (s)-[current:CONSUMED_BY]->(t) WHERE current.closed_at IS NULL
WITH s, t, e, count(current) AS already
WHERE already = 0
CREATE (s)-[:CONSUMED_BY {tenant_id: e.tenant_id, edge_key: e.edge_key,
                          created_at: e.created_at, closed_at: e.closed_at}]->(t)
""",
}

_CLOSE = """
UNWIND $ids AS near
MATCH (n:Artifact|Execution {tenant_id: $tenant, id: near})-[r:PRODUCED|CONSUMED_BY]-()
WHERE r.closed_at IS NULL
WITH DISTINCT r
SET r.closed_at = $at
RETURN count(r) AS closed
"""

_NOW = "r.closed_at IS NULL"
_THEN = "r.created_at <= $as_of AND (r.closed_at IS NULL OR r.closed_at > $as_of)"
# The frontier node is the source going downstream, the target going upstream.
_NEAR = "(n:Artifact|Execution {tenant_id: $tenant, id: near})"
_PATTERN = {
    Direction.DOWNSTREAM: f"{_NEAR}-[r:PRODUCED|CONSUMED_BY]->(m)",
    Direction.UPSTREAM: f"(m)-[r:PRODUCED|CONSUMED_BY]->{_NEAR}",
}
_ENDS = {Direction.DOWNSTREAM: ("n", "m"), Direction.UPSTREAM: ("m", "n")}


def timestamp(at: datetime) -> str:
    """UTC, fixed width, microseconds: text order is time order."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{at!r} must be timezone-aware")
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def add_edges(kind: EdgeKind, edges: Sequence[LineageEdge]) -> Query:
    """Add edges of one kind (the caller groups them and drops repeated keys)."""
    rows = [
        {
            "tenant_id": edge.tenant_id,
            "edge_key": edge.key,
            "source_id": edge.source_id,
            "target_id": edge.target_id,
            "created_at": timestamp(edge.created_at),
            "closed_at": None if edge.closed_at is None else timestamp(edge.closed_at),
        }
        for edge in edges
    ]
    return _ADD[kind].strip(), {"edges": rows}


def close_edges(tenant: str, node_ids: Sequence[str], at: datetime) -> Query:
    """Close every open relationship of ``tenant`` touching ``node_ids``."""
    return _CLOSE.strip(), {"tenant": tenant, "ids": list(node_ids), "at": timestamp(at)}


def neighbors(
    tenant: str,
    frontier: Sequence[str],
    direction: Direction,
    as_of: datetime | None,
    limit_per_node: int | None,
) -> Query:
    """In-force relationships one step from each frontier node, oldest ``limit_per_node`` per node."""
    source, target = _ENDS[direction]
    query = f"""
UNWIND $frontier AS near
CALL {{
  WITH near
  MATCH {_PATTERN[direction]}
  WHERE {_NOW if as_of is None else _THEN}
  RETURN r, {source}.id AS source_id, {target}.id AS target_id
  ORDER BY r.created_at, r.edge_key
  LIMIT $limit
}}
RETURN r.tenant_id AS tenant_id, type(r) AS kind, source_id, target_id,
       r.created_at AS created_at, r.closed_at AS closed_at
"""
    params: dict[str, Any] = {
        "tenant": tenant,
        "frontier": list(frontier),
        "limit": NO_LIMIT if limit_per_node is None else limit_per_node,
    }
    if as_of is not None:
        params["as_of"] = timestamp(as_of)
    return query.strip(), params


def from_row(row: dict[str, Any]) -> LineageEdge:
    """The edge one returned row describes."""
    closed = row.get("closed_at")
    return LineageEdge.model_construct(
        tenant_id=row["tenant_id"],
        kind=EdgeKind(row["kind"]),
        source_id=row["source_id"],
        target_id=row["target_id"],
        created_at=_parse(row["created_at"]),
        closed_at=None if closed is None else _parse(closed),
    )
