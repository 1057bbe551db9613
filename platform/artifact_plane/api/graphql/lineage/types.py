"""GraphQL types of the lineage area."""

from __future__ import annotations

import enum
from datetime import datetime

import strawberry

from artifact_plane import models
from artifact_plane.api.graphql.common import PageInfo


@strawberry.enum
class LineageDirection(enum.Enum):
    UPSTREAM = "upstream"
    DOWNSTREAM = "downstream"
    BOTH = "both"


@strawberry.enum(name="NodeKind")
class NodeKindEnum(enum.Enum):
    ARTIFACT = "artifact"
    EXECUTION = "execution"


@strawberry.enum(
    name="EdgeKind", description="PRODUCED: execution → artifact; CONSUMED_BY: artifact → execution."
)
class EdgeKindEnum(enum.Enum):
    PRODUCED = "PRODUCED"
    CONSUMED_BY = "CONSUMED_BY"


@strawberry.type(description="An artifact or an execution. Redacted nodes keep only kind and depth.")
class LineageNode:
    id: strawberry.ID
    kind: NodeKindEnum
    depth: int
    redacted: bool
    artifact_type: str | None
    realm: str | None
    uri: str | None
    status: str | None
    intent: str | None

    @classmethod
    def from_model(cls, node: models.LineageNode) -> LineageNode:
        return cls(
            id=strawberry.ID(node.id),
            kind=NodeKindEnum(node.kind.value),
            depth=node.depth,
            redacted=node.redacted,
            artifact_type=node.artifact_type,
            realm=node.realm,
            uri=node.uri,
            status=node.status,
            intent=node.intent,
        )


@strawberry.type
class LineageEdge:
    kind: EdgeKindEnum
    source_id: strawberry.ID
    target_id: strawberry.ID
    created_at: datetime

    @classmethod
    def from_model(cls, edge: models.LineageEdge) -> LineageEdge:
        return cls(
            kind=EdgeKindEnum(edge.kind.value),
            source_id=strawberry.ID(edge.source_id),
            target_id=strawberry.ID(edge.target_id),
            created_at=edge.created_at,
        )


@strawberry.type(
    description="A lineage answer; `isPartial` when a limit cut it short (`truncatedBy` says which). "
    "With `first`, one page of its nodes and the edges that page completes."
)
class LineageGraph:
    root: strawberry.ID
    nodes: list[LineageNode]
    edges: list[LineageEdge]
    is_partial: bool
    truncated_by: list[str]
    total_nodes: int
    page_info: PageInfo


@strawberry.type(description="What registerLineage recorded.")
class RegisterLineagePayload:
    execution_id: strawberry.ID
    input_ids: list[strawberry.ID]
    output_ids: list[strawberry.ID]
