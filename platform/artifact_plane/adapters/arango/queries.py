"""AQL for the Arango lineage store: fixed query texts, values only in ``bind_vars``.

Each builder returns ``(query, bind_vars)``. The only choices made in the
text are between fixed alternatives picked from enums (the attribute a
direction follows, ``OUTBOUND`` or ``INBOUND``); everything a caller gives
(tenant, IDs, times, limits, collection and graph names) is a bind variable.

Every write waits for the disk (``waitForSync``): the relay marks an outbox
entry delivered once ArangoDB acknowledged it, so the acknowledgement must
survive a crash of the server.

Data model (see ``lineage.py``): open edges live in the edge collection of the
named graph, keyed by ``(tenant, edge key)``, so an add is idempotent by its
``_key``; closing an edge moves it to a history edge collection outside the
graph, so a native traversal sees exactly the edges open now.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from artifact_plane.models import EdgeKind, LineageEdge, NodeKind
from artifact_plane.ports.lineage import Direction

__all__ = [
    "Names",
    "Query",
    "add_edges",
    "add_history",
    "add_vertices",
    "close_find",
    "close_move",
    "edge_doc",
    "from_doc",
    "history_key",
    "neighbors",
    "node_key",
    "open_key",
    "reach",
    "timestamp",
]

Query = tuple[str, dict[str, Any]]
NO_LIMIT = 2**31 - 1  # LIMIT takes a number; "all of them" for one node's edges


@dataclass(frozen=True)
class Names:
    """Collection and graph names (a prefix keeps several planes apart in one database)."""

    prefix: str = "ap_"

    @property
    def artifacts(self) -> str:
        return f"{self.prefix}artifacts"

    @property
    def executions(self) -> str:
        return f"{self.prefix}executions"

    @property
    def edges(self) -> str:
        return f"{self.prefix}lineage_edges"

    @property
    def history(self) -> str:
        return f"{self.prefix}lineage_history"

    @property
    def graph(self) -> str:
        return f"{self.prefix}lineage"

    def vertices(self, kind: NodeKind) -> str:
        return self.artifacts if kind is NodeKind.ARTIFACT else self.executions


def timestamp(at: datetime) -> str:
    """UTC, fixed width, microseconds: compares as strings in time order (AQL has no datetime type)."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{at!r} must be timezone-aware")
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def _digest(*parts: str) -> str:
    # Deterministic keys within ArangoDB's 254-byte _key limit, whatever the ID lengths.
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:40]


def node_key(tenant: str, node_id: str) -> str:
    return _digest(tenant, node_id)


def open_key(tenant: str, edge_key: str) -> str:
    return _digest(tenant, edge_key)


def history_key(tenant: str, edge_key: str, created_at: str) -> str:
    return _digest(tenant, edge_key, created_at)


def edge_doc(edge: LineageEdge, names: Names) -> dict[str, Any]:
    """The document of an open edge (``_key`` deterministic: adding it twice is one edge)."""
    source = f"{names.vertices(edge.source_kind)}/{node_key(edge.tenant_id, edge.source_id)}"
    target = f"{names.vertices(edge.target_kind)}/{node_key(edge.tenant_id, edge.target_id)}"
    return {
        "_key": open_key(edge.tenant_id, edge.key),
        "_from": source,
        "_to": target,
        "tenant_id": edge.tenant_id,
        "edge_key": edge.key,
        "kind": edge.kind.value,
        "source_id": edge.source_id,
        "target_id": edge.target_id,
        "created_at": timestamp(edge.created_at),
        "closed_at": None if edge.closed_at is None else timestamp(edge.closed_at),
    }


def from_doc(doc: dict[str, Any]) -> LineageEdge:
    """The edge a stored document holds (validated on the way in: built without validation)."""
    return LineageEdge.model_construct(
        tenant_id=doc["tenant_id"],
        kind=EdgeKind(doc["kind"]),
        source_id=doc["source_id"],
        target_id=doc["target_id"],
        created_at=_parse(doc["created_at"]),
        closed_at=None if doc.get("closed_at") is None else _parse(doc["closed_at"]),
    )


def add_vertices(collection: str, docs: Sequence[dict[str, Any]]) -> Query:
    """Insert vertices, ignoring those that exist (their ``_key`` is deterministic)."""
    query = 'FOR d IN @docs INSERT d INTO @@vertices OPTIONS { overwriteMode: "ignore", waitForSync: true }'
    return query, {"docs": list(docs), "@vertices": collection}


def add_edges(names: Names, docs: Sequence[dict[str, Any]]) -> Query:
    """Insert open edges; an edge whose key is open already is left as it is."""
    query = 'FOR d IN @docs INSERT d INTO @@edges OPTIONS { overwriteMode: "ignore", waitForSync: true }'
    return query, {"docs": list(docs), "@edges": names.edges}


def add_history(names: Names, docs: Sequence[dict[str, Any]]) -> Query:
    """Insert edges that arrive closed, unless their key is open (as the reference store does)."""
    query = """
FOR d IN @docs
  FILTER LENGTH(FOR x IN @@edges FILTER x._key == d.open_key LIMIT 1 RETURN 1) == 0
  INSERT UNSET(d, "open_key") INTO @@history OPTIONS { overwriteMode: "ignore", waitForSync: true }
"""
    return query.strip(), {"docs": list(docs), "@edges": names.edges, "@history": names.history}


def close_find(names: Names, tenant: str, node_ids: Sequence[str]) -> Query:
    """The open edges of ``tenant`` touching ``node_ids`` (step 1 of a close)."""
    query = """
FOR e IN @@edges
  FILTER e.tenant_id == @tenant AND (e.source_id IN @ids OR e.target_id IN @ids)
  RETURN UNSET(e, "_id", "_rev")
"""
    return query.strip(), {"@edges": names.edges, "tenant": tenant, "ids": list(node_ids)}


def close_move(names: Names, closed: Sequence[dict[str, Any]]) -> tuple[Query, Query]:
    """Copy closed edges to history, then remove the open ones (steps 2 and 3 of a close).

    Either step may run again after a crash: the history copy's key is
    deterministic (ignored when present) and the removal matches the open
    edge's ``created_at``, so an edge re-opened since is never removed.
    """
    copy = 'FOR d IN @docs INSERT d INTO @@history OPTIONS { overwriteMode: "ignore", waitForSync: true }'
    remove = """
FOR d IN @targets
  FOR e IN @@edges
    FILTER e._key == d.key AND e.created_at == d.created_at
    REMOVE e IN @@edges OPTIONS { waitForSync: true }
    RETURN 1
"""
    targets = [{"key": doc["open_key"], "created_at": doc["created_at"]} for doc in closed]
    docs = [{k: v for k, v in doc.items() if k != "open_key"} for doc in closed]
    return (
        (copy, {"docs": docs, "@history": names.history}),
        (remove.strip(), {"targets": targets, "@edges": names.edges}),
    )


_NEAR = {Direction.DOWNSTREAM: "source_id", Direction.UPSTREAM: "target_id"}


def neighbors(
    names: Names,
    tenant: str,
    frontier: Sequence[str],
    direction: Direction,
    as_of: datetime | None,
    limit_per_node: int | None,
) -> Query:
    """The in-force edges one step from each frontier node, oldest ``limit_per_node`` per node."""
    near = _NEAR[direction]  # a fixed attribute name chosen by the enum, never input
    bind: dict[str, Any] = {
        "@edges": names.edges,
        "tenant": tenant,
        "frontier": list(frontier),
        "limit": NO_LIMIT if limit_per_node is None else limit_per_node,
    }
    if as_of is None:
        source = f"(FOR x IN @@edges FILTER x.tenant_id == @tenant AND x.{near} == near RETURN x)"
    else:
        bind["@history"] = names.history
        bind["as_of"] = timestamp(as_of)
        source = (
            "UNION("
            f"(FOR x IN @@edges FILTER x.tenant_id == @tenant AND x.{near} == near"
            " AND x.created_at <= @as_of RETURN x), "
            f"(FOR x IN @@history FILTER x.tenant_id == @tenant AND x.{near} == near"
            " AND x.created_at <= @as_of AND x.closed_at > @as_of RETURN x))"
        )
    query = f"""
FOR near IN @frontier
  LET found = (
    FOR e IN {source}
      SORT e.created_at, e.edge_key
      LIMIT @limit
      RETURN e)
  FOR e IN found
    RETURN KEEP(e, "tenant_id", "kind", "source_id", "target_id", "created_at", "closed_at")
"""
    return query.strip(), bind


def reach(names: Names, tenant: str, start: str, direction: Direction, *, steps: int, cap: int) -> Query:
    """Every node reachable from ``start`` over open edges within ``steps``, with its fewest steps.

    A breadth-first traversal with global vertex uniqueness visits each
    vertex once, at its smallest depth. The start is tried as an artifact and
    as an execution (the walk follows IDs, not kinds). At most ``cap`` rows.
    """
    way = "OUTBOUND" if direction is Direction.DOWNSTREAM else "INBOUND"  # fixed keywords
    query = f"""
FOR start IN @starts
  FOR v, e, p IN 1..@steps {way} start GRAPH @graph
    OPTIONS {{ order: "bfs", uniqueVertices: "global" }}
    FILTER v != null AND v.tenant_id == @tenant
    COLLECT node = v.node_id AGGREGATE step = MIN(LENGTH(p.edges))
    LIMIT @cap
    RETURN {{ node, step }}
"""
    starts = [
        f"{names.artifacts}/{node_key(tenant, start)}",
        f"{names.executions}/{node_key(tenant, start)}",
    ]
    bind = {"starts": starts, "steps": steps, "graph": names.graph, "tenant": tenant, "cap": cap}
    return query.strip(), bind
