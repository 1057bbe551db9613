"""Queries of the lineage area: ``lineage(artifactId, direction, depth, maxNodes, first, after)``.

Paging cuts the walk's node list (root first, nearest first). Each edge comes
with the page holding the later of its two nodes, so across the pages every
edge arrives exactly once, and only once both its ends have.
"""

from __future__ import annotations

import base64
import binascii

import strawberry

from artifact_plane import models
from artifact_plane.api.graphql.common import PageInfo, check_first
from artifact_plane.api.graphql.context import ApiContext
from artifact_plane.api.graphql.lineage.types import LineageDirection, LineageEdge, LineageGraph, LineageNode
from artifact_plane.api.graphql.permissions import authenticated
from artifact_plane.errors import InvalidInputError

Info = strawberry.Info[ApiContext, None]
CURSOR_PREFIX = "lineage:"


def _encode(offset: int) -> str:
    return base64.urlsafe_b64encode(f"{CURSOR_PREFIX}{offset}".encode()).decode().rstrip("=")


def _decode(cursor: str | None) -> int:
    if cursor is None:
        return 0
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if not raw.startswith(CURSOR_PREFIX):
            raise ValueError(raw)
        offset = int(raw.removeprefix(CURSOR_PREFIX))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidInputError("after", "not a lineage cursor this API returned; start without it") from None
    if offset < 0:
        raise InvalidInputError("after", "not a lineage cursor this API returned; start without it")
    return offset


def _page(graph: models.LineageGraph, first: int | None, after: str | None, info: Info) -> LineageGraph:
    start = _decode(after)
    nodes = list(graph.nodes)
    size = len(nodes) if first is None else check_first(first, info.context.settings)
    end = min(start + size, len(nodes))
    position = {node.id: index for index, node in enumerate(nodes)}
    edges = [
        e
        for e in graph.edges
        if start <= max(position.get(e.source_id, -1), position.get(e.target_id, -1)) < end
    ]
    return LineageGraph(
        root=strawberry.ID(graph.root),
        nodes=[LineageNode.from_model(n) for n in nodes[start:end]],
        edges=[LineageEdge.from_model(e) for e in edges],
        is_partial=graph.is_partial,
        truncated_by=list(graph.truncated_by),
        total_nodes=len(nodes),
        page_info=PageInfo(
            has_next_page=end < len(nodes),
            end_cursor=_encode(end) if end > start else after,
            has_previous_page=start > 0,
            start_cursor=_encode(start + 1) if end > start else None,  # the cursor after its first node
        ),
    )


async def resolve_lineage(
    info: Info,
    artifact_id: strawberry.ID,
    direction: LineageDirection = LineageDirection.DOWNSTREAM,
    depth: int = 3,
    max_nodes: int | None = None,
    first: int | None = None,
    after: str | None = None,
) -> LineageGraph:
    _decode(after)  # a bad cursor is refused before any walk
    if first is not None:
        check_first(first, info.context.settings)
    graph = await info.context.scoped().lineage(
        str(artifact_id), direction=direction.value, depth=depth, max_nodes=max_nodes
    )
    return _page(graph, first, after, info)


@strawberry.type
class LineageQueries:
    lineage: LineageGraph | None = strawberry.field(
        resolver=resolve_lineage,
        extensions=[authenticated()],
        description="The lineage around an artifact (or execution). `depth` counts artifact hops "
        "(at most AP_MAX_LINEAGE_DEPTH), `maxNodes` caps the walk (at most AP_MAX_LINEAGE_NODES); "
        "`first`/`after` page through its nodes.",
    )
