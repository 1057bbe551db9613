"""Level-by-level lineage traversal, written without I/O.

:func:`walk_steps` is a generator: it yields the frontier it wants expanded
and is sent back the edges found. One query per level (the whole frontier at
once) rather than one per node is what keeps deep walks over SQL cheap; the
limits are enforced here, exactly, so every adapter answers the same way.
:func:`walk` drives it through the async ``LineageStore.neighbors``; an
adapter can drive it synchronously inside one transaction with
:func:`drive` (the SQL store does: one thread hop and one consistent
snapshot for a whole walk).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Generator
from datetime import datetime
from typing import TYPE_CHECKING

from artifact_plane.models import LineageEdge, LineageGraph, LineageNode, NodeKind

if TYPE_CHECKING:
    from artifact_plane.ports.lineage import Direction, LineageStore

# (direction, frontier node IDs, edges wanted per node or None)
Request = tuple["Direction", list[str], int | None]
Steps = Generator[Request, list[LineageEdge], LineageGraph]


def max_steps(depth: int, start_kind: NodeKind) -> int:
    """Edge steps for ``depth`` artifact hops (artifact → execution → artifact is one)."""
    if depth <= 0:
        return 0
    return 2 * depth if start_kind is NodeKind.ARTIFACT else 2 * depth - 1


def _order(edge: LineageEdge) -> tuple[datetime, str]:
    return (edge.created_at, edge.key)


def walk_steps(
    start: str,
    direction: Direction,
    *,
    depth: int,
    max_nodes: int,
    fanout_limit: int | None = None,
    start_kind: NodeKind = NodeKind.ARTIFACT,
    timeout: float | None = None,
) -> Steps:
    """The breadth-first walk; see ``LineageStore.traverse`` for the contract."""
    from artifact_plane.ports.lineage import Direction

    deadline = None if timeout is None else time.monotonic() + timeout
    nodes: dict[str, LineageNode] = {start: LineageNode(id=start, kind=start_kind, depth=0)}
    edges: dict[str, LineageEdge] = {}
    truncated: set[str] = set()
    directions = [Direction.UPSTREAM, Direction.DOWNSTREAM] if direction is Direction.BOTH else [direction]
    steps = max_steps(depth, start_kind)
    per_node = None if fanout_limit is None else fanout_limit + 1
    for one_way in directions:
        downstream = one_way is Direction.DOWNSTREAM
        frontier = [start]
        for step in range(1, steps + 1):
            if not frontier:
                break
            if deadline is not None and time.monotonic() > deadline:
                truncated.add("timeout")
                break
            found = yield (one_way, frontier, per_node)
            by_node: dict[str, list[LineageEdge]] = defaultdict(list)
            for edge in found:
                by_node[edge.source_id if downstream else edge.target_id].append(edge)
            next_frontier: list[str] = []
            for near in frontier:
                out = sorted(by_node.get(near, ()), key=_order)
                if fanout_limit is not None and len(out) > fanout_limit:
                    out = out[:fanout_limit]
                    truncated.add("fanout_limit")
                for edge in out:
                    if downstream:
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


def drive(
    steps: Steps, fetch: Callable[[Direction, list[str], int | None], list[LineageEdge]]
) -> LineageGraph:
    """Run a walk with a blocking ``fetch(direction, frontier, per_node)``."""
    try:
        request = next(steps)
        while True:
            request = steps.send(fetch(*request))
    except StopIteration as done:
        graph: LineageGraph = done.value
        return graph


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
    """Run a walk through ``store.neighbors`` (one call per level)."""
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
        one_way, frontier, per_node = next(steps)
        while True:
            found = await store.neighbors(tenant, frontier, one_way, as_of=as_of, limit_per_node=per_node)
            one_way, frontier, per_node = steps.send(found)
    except StopIteration as done:
        graph: LineageGraph = done.value
        return graph
