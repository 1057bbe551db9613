"""Level-by-level lineage traversal on top of ``LineageStore.neighbors``.

One query per level (the whole frontier at once) rather than one per node,
which is what keeps deep walks over SQL cheap; the limits are enforced here,
exactly, so every adapter that relies on it answers the same way.
"""

from __future__ import annotations

import time
from collections import defaultdict
from datetime import datetime
from typing import TYPE_CHECKING

from artifact_plane.models import LineageEdge, LineageGraph, LineageNode, NodeKind

if TYPE_CHECKING:
    from artifact_plane.ports.lineage import Direction, LineageStore


def max_steps(depth: int, start_kind: NodeKind) -> int:
    """Edge steps for ``depth`` artifact hops (artifact → execution → artifact is one)."""
    if depth <= 0:
        return 0
    return 2 * depth if start_kind is NodeKind.ARTIFACT else 2 * depth - 1


async def walk(
    store: LineageStore,
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
    """Breadth-first walk; see ``LineageStore.traverse`` for the contract."""
    from artifact_plane.ports.lineage import Direction

    deadline = None if timeout is None else time.monotonic() + timeout
    nodes: dict[str, LineageNode] = {start: LineageNode(id=start, kind=start_kind, depth=0)}
    edges: dict[str, LineageEdge] = {}
    truncated: set[str] = set()
    directions = [Direction.UPSTREAM, Direction.DOWNSTREAM] if direction is Direction.BOTH else [direction]
    steps = max_steps(depth, start_kind)
    for one_way in directions:
        frontier = [start]
        for step in range(1, steps + 1):
            if not frontier:
                break
            if deadline is not None and time.monotonic() > deadline:
                truncated.add("timeout")
                break
            per_node = None if fanout_limit is None else fanout_limit + 1
            found = await store.neighbors(tenant, frontier, one_way, as_of=as_of, limit_per_node=per_node)
            by_node: dict[str, list[LineageEdge]] = defaultdict(list)
            for edge in found:
                near = edge.source_id if one_way is Direction.DOWNSTREAM else edge.target_id
                by_node[near].append(edge)
            next_frontier: list[str] = []
            for near in frontier:
                out = sorted(by_node.get(near, ()), key=lambda e: (e.created_at, e.key))
                if fanout_limit is not None and len(out) > fanout_limit:
                    out = out[:fanout_limit]
                    truncated.add("fanout_limit")
                for edge in out:
                    if one_way is Direction.DOWNSTREAM:
                        far, far_kind = edge.target_id, edge.target_kind
                    else:
                        far, far_kind = edge.source_id, edge.source_kind
                    if far not in nodes:
                        if len(nodes) >= max_nodes:
                            truncated.add("max_nodes")
                            continue
                        nodes[far] = LineageNode(id=far, kind=far_kind, depth=(step + 1) // 2)
                        next_frontier.append(far)
                    edges[edge.key] = edge
            frontier = next_frontier
    return LineageGraph(
        root=start,
        nodes=tuple(nodes.values()),
        edges=tuple(edges.values()),
        is_partial=bool(truncated),
        truncated_by=tuple(sorted(truncated)),
    )
