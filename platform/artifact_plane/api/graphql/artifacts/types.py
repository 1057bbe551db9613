"""GraphQL types of the artifacts area."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.scalars import JSON

from artifact_plane.api.graphql.common import PageInfo
from artifact_plane.api.graphql.context import ApiContext
from artifact_plane.models import ArtifactRecord

if TYPE_CHECKING:
    from artifact_plane.api.graphql.executions.types import Execution

Info = strawberry.Info[ApiContext, None]
ExecutionRef = Annotated["Execution", strawberry.lazy("artifact_plane.api.graphql.executions.types")]


@strawberry.enum(name="ArtifactStatus", description="pending → ready | failed; ready → expired.")
class ArtifactStatusEnum(enum.Enum):
    PENDING = "pending"
    READY = "ready"
    FAILED = "failed"
    EXPIRED = "expired"


@strawberry.enum(description="How a named write treats a name that already has versions.")
class WriteMode(enum.Enum):
    UPSERT = "upsert"
    FAIL_IF_EXISTS = "failIfExists"


async def _produced_by(root: Artifact, info: Info) -> list[Execution]:
    from artifact_plane.api.graphql.executions.types import load_executions

    return await load_executions(info, await info.context.loaders.producers.load(str(root.id)))


@strawberry.type(description="One reason an artifact is stale.")
class StaleCause:
    kind: str = strawberry.field(
        description="input_updated | operator_changed | operator_missing | upstream_stale"
    )
    detail: str
    input_id: str | None
    newer_id: str | None
    operator: str | None
    current_operator: str | None


async def _stale_causes(root: Artifact, info: Info) -> list[StaleCause]:
    runner = info.context.intents
    if runner is None:
        return []
    causes = await runner.stale_causes(info.context.scoped(), str(root.id))
    return [
        StaleCause(
            kind=c.kind,
            detail=c.detail,
            input_id=c.input_id,
            newer_id=c.newer_id,
            operator=c.operator,
            current_operator=c.current_operator,
        )
        for c in causes
    ]


async def _stale(root: Artifact, info: Info) -> bool:
    return bool(await _stale_causes(root, info))


async def _consumed_by(root: Artifact, info: Info) -> list[Execution]:
    from artifact_plane.api.graphql.executions.types import load_executions

    return await load_executions(info, await info.context.loaders.consumers.load(str(root.id)))


@strawberry.type(description="An artifact's metadata (the bytes are fetched separately).")
class Artifact:
    id: strawberry.ID
    artifact_type: str
    realm: str
    status: ArtifactStatusEnum
    content_type: str
    encoding: str | None
    size_bytes: int
    sha256: str
    uri: str | None
    version: str | None
    execution_id: str | None
    owner: str | None
    created_by: str | None
    tags: list[str]
    inherited_tags: list[str] = strawberry.field(
        description="Classification tags (pii, …) inherited from its lineage inputs, never set by hand."
    )
    metadata: JSON
    created_at: datetime
    updated_at: datetime
    expires_at: datetime | None
    retention_policy: str | None = strawberry.field(description="How it is kept (a steward's name for it).")
    ttl: int | None = strawberry.field(description="Seconds from creation until it expires (none: kept).")

    produced_by: list[ExecutionRef] = strawberry.field(
        resolver=_produced_by, description="Executions that produced it (batched across a page)."
    )
    consumed_by: list[ExecutionRef] = strawberry.field(
        resolver=_consumed_by, description="Executions that consumed it (batched across a page)."
    )
    stale: bool = strawberry.field(
        resolver=_stale,
        description="An input it was derived from has a newer ready version, or its operator changed.",
    )
    stale_causes: list[StaleCause] = strawberry.field(
        resolver=_stale_causes, description="Why it is stale (empty when fresh)."
    )

    @classmethod
    def from_record(cls, record: ArtifactRecord) -> Artifact:
        return cls(
            id=strawberry.ID(record.artifact_id),
            artifact_type=record.artifact_type,
            realm=record.realm,
            status=ArtifactStatusEnum(record.status.value),
            content_type=record.content_type,
            encoding=record.encoding,
            size_bytes=record.size_bytes,
            sha256=record.sha256,
            uri=record.uri,
            version=record.version,
            execution_id=record.execution_id,
            owner=record.owner,
            created_by=record.created_by,
            tags=list(record.tags),
            inherited_tags=list(record.inherited_tags),
            metadata=JSON(record.metadata),
            created_at=record.created_at,
            updated_at=record.updated_at,
            expires_at=record.expires_at,
            retention_policy=record.retention_policy,
            ttl=record.ttl,
        )


@strawberry.type
class ArtifactEdge:
    cursor: str
    node: Artifact


@strawberry.type(description="A page of artifacts, oldest first.")
class ArtifactConnection:
    edges: list[ArtifactEdge]
    page_info: PageInfo


@strawberry.input(description="All given filters must hold.")
class ArtifactFilter:
    realm: str | None = None
    artifact_type: str | None = None
    status: list[ArtifactStatusEnum] | None = None
    tags: list[str] | None = None
    uri: str | None = strawberry.field(
        default=None, description="A glob: `*` within a segment, `**` across segments."
    )
    min_version: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    execution_id: str | None = None


@strawberry.input(description="Give exactly one of `text` and `base64`.")
class CreateArtifactInput:
    artifact_type: str
    text: str | None = None
    base64: str | None = None
    content_type: str | None = None
    tags: list[str] = strawberry.field(default_factory=list)
    realm: str | None = strawberry.field(default=None, description="Defaults to the token's realm.")
    uri: str | None = strawberry.field(
        default=None, description="Write a new version of this name (artifact://realm/path)."
    )
    version: str | None = None
    mode: WriteMode = WriteMode.UPSERT
    status: ArtifactStatusEnum = strawberry.field(
        default=ArtifactStatusEnum.READY,
        description="READY, or PENDING to fill in later (then setArtifactStatus).",
    )


@strawberry.input(description="A new version of a name. Give exactly one of `text` and `base64`.")
class WriteArtifactInput:
    uri: str = strawberry.field(description="artifact://realm/path (`self` means your token's realm).")
    artifact_type: str = "document"
    text: str | None = None
    base64: str | None = None
    content_type: str | None = None
    tags: list[str] = strawberry.field(default_factory=list)
    version: str | None = strawberry.field(default=None, description="Default: next patch of the newest.")
    mode: WriteMode = WriteMode.UPSERT


@strawberry.type
class CreateArtifactPayload:
    artifact_id: strawberry.ID


@strawberry.type
class WriteArtifactPayload:
    artifact_id: strawberry.ID
    artifact: Artifact


@strawberry.type
class DeleteArtifactPayload:
    artifact_id: strawberry.ID
    deleted_at: datetime


@strawberry.type(description="An artifact's status, now and after each change.")
class ArtifactStatusEvent:
    artifact_id: strawberry.ID
    status: ArtifactStatusEnum
    updated_at: datetime
    final: bool = strawberry.field(description="No further change will come (failed or expired).")
