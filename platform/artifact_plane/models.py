"""Domain models (pydantic), no I/O.

Records are immutable values: a change produces a new record through
``model_copy(update=...)``.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from artifact_plane.ids import ID_PATTERN

__all__ = [
    "ALLOWED_TRANSITIONS",
    "NOT_IN_RESOURCE",
    "RESOURCE_FIELDS",
    "SCAN_IDENTITY",
    "Artifact",
    "ArtifactFilter",
    "ArtifactRecord",
    "ArtifactStatus",
    "DecisionFilter",
    "DecisionRecord",
    "EdgeKind",
    "Execution",
    "ExecutionStatus",
    "LineageEdge",
    "LineageGraph",
    "LineageNode",
    "NodeKind",
    "Page",
    "PolicyDecision",
    "PolicyInput",
    "StoredPayload",
    "Subject",
    "scanned_fields",
    "utcnow",
]


def utcnow() -> datetime:
    """Timezone-aware current UTC time (the only clock the models use)."""
    return datetime.now(UTC)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Subject(_Frozen):
    """Who is acting: from a token in the API, from flags in the CLI."""

    id: str
    tenant: str
    roles: tuple[str, ...] = ()
    realm: str | None = None

    @field_validator("id", "tenant")
    @classmethod
    def _ascii_id(cls, value: str) -> str:
        if not ID_PATTERN.fullmatch(value):
            raise ValueError("must be 1-128 ASCII letters, digits, '_' or '-'")
        return value

    @field_validator("realm")
    @classmethod
    def _realm_id(cls, value: str | None) -> str | None:
        if value is not None and not ID_PATTERN.fullmatch(value):
            raise ValueError("must be 1-128 ASCII letters, digits, '_' or '-'")
        return value


class ArtifactStatus(enum.StrEnum):
    PENDING = "pending"
    READY = "ready"
    FAILED = "failed"
    EXPIRED = "expired"


ALLOWED_TRANSITIONS: dict[ArtifactStatus, frozenset[ArtifactStatus]] = {
    ArtifactStatus.PENDING: frozenset({ArtifactStatus.READY, ArtifactStatus.FAILED}),
    ArtifactStatus.READY: frozenset({ArtifactStatus.EXPIRED}),
    ArtifactStatus.FAILED: frozenset(),
    ArtifactStatus.EXPIRED: frozenset(),
}


class ArtifactRecord(_Frozen):
    """One row of the registry: everything about an artifact except its bytes."""

    artifact_id: str
    artifact_type: str
    tenant_id: str
    realm: str
    sha256: str
    payload_key: str
    size_bytes: int = Field(ge=0)
    content_type: str = "application/octet-stream"
    encoding: str | None = None
    session_id: str | None = None
    solution_id: str | None = None
    intent_type: str | None = None
    execution_id: str | None = None
    owner: str | None = None
    uri: str | None = None
    version: str | None = None
    version_key: str | None = None
    schema_version: str | None = None
    status: ArtifactStatus = ArtifactStatus.READY
    ttl: int | None = Field(default=None, ge=0, description="seconds from creation")
    expires_at: datetime | None = None
    regenerable: bool = False
    retention_policy: str | None = None
    capabilities: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    # Classification tags (``pii``, …) inherited from lineage inputs, never set by hand.
    inherited_tags: tuple[str, ...] = ()
    metadata: dict[str, Any] = Field(default_factory=dict)
    created_by: str | None = None
    created_at: datetime
    updated_at: datetime

    def resource(self, fields: frozenset[str] | None = None) -> dict[str, Any]:
        """The policy ``resource`` document for this record (no payload); only ``fields`` when given."""
        if fields is None:
            return self.model_dump(mode="json", exclude=set(NOT_IN_RESOURCE))
        return self.model_dump(mode="json", include=set(fields - NOT_IN_RESOURCE))


# Record fields that are storage internals, not part of a policy resource document.
NOT_IN_RESOURCE = frozenset({"version_key", "payload_key"})
# The fields of a record's policy resource document (:meth:`ArtifactRecord.resource`).
RESOURCE_FIELDS = frozenset(ArtifactRecord.model_fields) - NOT_IN_RESOURCE
# Always in a scanned resource (Registry.scan_resources): what an audit reports and whom it asks as.
SCAN_IDENTITY = frozenset({"artifact_id", "tenant_id", "realm", "artifact_type", "uri", "created_by"})


def scanned_fields(fields: Iterable[str]) -> frozenset[str]:
    """The resource fields a scan for ``fields`` returns: those that are record fields, and the identity.

    A name that is no record field (one only a request carries, such as
    ``new_retention_policy``) is dropped: a stored record's resource has no
    such field either.
    """
    return (frozenset(fields) & RESOURCE_FIELDS) | SCAN_IDENTITY


class Artifact(ArtifactRecord):
    """A record together with its payload bytes (when asked for)."""

    payload: bytes | None = None

    def text(self, encoding: str = "utf-8") -> str:
        """The payload decoded as text."""
        if self.payload is None:
            raise ValueError("payload was not loaded: call get_artifact(..., include_payload=True)")
        return self.payload.decode(self.encoding or encoding)


class ExecutionStatus(enum.StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class Execution(_Frozen):
    """One run of an intent; holds references (artifact IDs) only, never payloads."""

    execution_id: str
    tenant_id: str
    realm: str | None = None
    intent: str | None = None
    operator: str | None = None
    status: ExecutionStatus = ExecutionStatus.SUCCEEDED
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    error: str | None = None
    started_at: datetime
    finished_at: datetime | None = None


class NodeKind(enum.StrEnum):
    ARTIFACT = "artifact"
    EXECUTION = "execution"


class EdgeKind(enum.StrEnum):
    PRODUCED = "PRODUCED"  # execution -> artifact
    CONSUMED_BY = "CONSUMED_BY"  # artifact -> execution


class LineageEdge(_Frozen):
    """A directed edge; closed (``closed_at``) rather than ever updated in place."""

    tenant_id: str
    kind: EdgeKind
    source_id: str
    target_id: str
    created_at: datetime
    closed_at: datetime | None = None

    @property
    def source_kind(self) -> NodeKind:
        return NodeKind.EXECUTION if self.kind is EdgeKind.PRODUCED else NodeKind.ARTIFACT

    @property
    def target_kind(self) -> NodeKind:
        return NodeKind.ARTIFACT if self.kind is EdgeKind.PRODUCED else NodeKind.EXECUTION

    @property
    def key(self) -> str:
        """Deterministic identity: writing the same edge twice is a no-op."""
        return f"{self.kind.value}:{self.source_id}:{self.target_id}"

    def open_at(self, instant: datetime | None) -> bool:
        """Was the edge in force at ``instant`` (now, when None)?"""
        if instant is None:
            return self.closed_at is None
        return self.created_at <= instant and (self.closed_at is None or self.closed_at > instant)


class LineageNode(_Frozen):
    """A node of a lineage answer. ``redacted`` nodes keep kind and position only."""

    id: str
    kind: NodeKind
    depth: int = 0
    artifact_type: str | None = None
    realm: str | None = None
    uri: str | None = None
    status: str | None = None
    intent: str | None = None
    redacted: bool = False


class LineageGraph(_Frozen):
    """The answer to a lineage query."""

    root: str
    nodes: tuple[LineageNode, ...]
    edges: tuple[LineageEdge, ...]
    is_partial: bool = False
    truncated_by: tuple[str, ...] = ()


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of a listing; pass ``next_cursor`` back to get the next one."""

    model_config = ConfigDict(frozen=True)

    items: list[T]
    next_cursor: str | None = None


class ArtifactFilter(_Frozen):
    """Filters for listing artifacts; all given filters must hold."""

    realm: str | None = None
    artifact_type: str | None = None
    status: tuple[ArtifactStatus, ...] = ()
    tags: tuple[str, ...] = ()
    uri_glob: str | None = None
    min_version: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    execution_id: str | None = None


class StoredPayload(_Frozen):
    """What a payload store knows of one stored payload."""

    tenant_id: str
    sha256: str
    size_bytes: int
    key: str
    modified_at: datetime


Action = Literal[
    "create",
    "read",
    "export",
    "list",
    "update",
    "delete",
    "retention",
    "lineage.register",
    "lineage.read",
    "audit.read",
]


@dataclass(frozen=True, slots=True)
class PolicyInput:
    """The document every policy decision is made on.

    A plain dataclass, not a validated model: it is only ever built by the
    plane from parts validated already (a :class:`Subject`, a stored record's
    resource), and an audit builds millions of them.
    """

    subject: Subject
    action: str
    resource: dict[str, Any]
    context: dict[str, Any] = field(default_factory=dict)

    def document(self) -> dict[str, Any]:
        return {
            "subject": self.subject.model_dump(mode="json"),
            "action": self.action,
            "resource": self.resource,
            "context": self.context,
        }


class PolicyDecision(_Frozen):
    """What an engine answered."""

    allow: bool
    reasons: tuple[str, ...] = ()
    revision: str = ""
    engine: str = ""
    latency_ms: float = 0.0
    # The engine's own id for it (OPA's decision log), logged as the entry's id when given.
    decision_id: str | None = None


class DecisionRecord(_Frozen):
    """One entry of the decision log."""

    decision_id: str
    created_at: datetime
    tenant_id: str
    subject_id: str
    action: str
    resource_ref: str
    allow: bool
    reasons: tuple[str, ...] = ()
    revision: str = ""
    engine: str = ""
    latency_ms: float = 0.0
    # The policy input it was made on, sensitive fields masked and size capped
    # (masking.InputMask) before it was logged; None for entries logged before that.
    input: dict[str, Any] | None = None


class DecisionFilter(_Frozen):
    subject_id: str | None = None
    action: str | None = None
    allow: bool | None = None
    resource_ref: str | None = None
    since: datetime | None = None
    until: datetime | None = None
