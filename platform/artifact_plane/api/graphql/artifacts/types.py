"""GraphQL types of the artifacts area."""

from __future__ import annotations

import enum
from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from artifact_plane.api.graphql.common import PageInfo
from artifact_plane.models import ArtifactRecord


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
    metadata: JSON
    created_at: datetime
    updated_at: datetime
    expires_at: datetime | None

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
            metadata=JSON(record.metadata),
            created_at=record.created_at,
            updated_at=record.updated_at,
            expires_at=record.expires_at,
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


@strawberry.type
class CreateArtifactPayload:
    artifact_id: strawberry.ID
