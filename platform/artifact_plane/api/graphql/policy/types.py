"""GraphQL types of the policy area: the decision log."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from artifact_plane.api.graphql.common import PageInfo
from artifact_plane.models import DecisionRecord


@strawberry.type(description="One policy decision, as the audit log keeps it.")
class PolicyDecision:
    id: strawberry.ID
    created_at: datetime
    subject_id: str
    action: str
    resource_ref: str
    allow: bool
    reasons: list[str]
    revision: str
    engine: str
    latency_ms: float
    input: JSON | None = strawberry.field(
        description=(
            "The input document the decision was made on, as logged: sensitive fields (AP_POLICY_MASK) "
            'read "***", values cut to fit AP_POLICY_LOG_INPUT_MAX_BYTES read "*** cut: … ***"; '
            "null for decisions logged before inputs were kept."
        )
    )

    @classmethod
    def from_record(cls, record: DecisionRecord) -> PolicyDecision:
        return cls(
            id=strawberry.ID(record.decision_id),
            created_at=record.created_at,
            subject_id=record.subject_id,
            action=record.action,
            resource_ref=record.resource_ref,
            allow=record.allow,
            reasons=list(record.reasons),
            revision=record.revision,
            engine=record.engine,
            latency_ms=record.latency_ms,
            input=JSON(record.input) if record.input is not None else None,
        )


@strawberry.type
class PolicyDecisionEdge:
    cursor: str
    node: PolicyDecision


@strawberry.type(description="A page of decisions, oldest first.")
class PolicyDecisionConnection:
    edges: list[PolicyDecisionEdge]
    page_info: PageInfo


@strawberry.input(description="All given filters must hold. `subjectId` defaults to you.")
class PolicyDecisionFilter:
    subject_id: str | None = strawberry.field(
        default=None,
        description="Another subject's decisions (policy action `audit.read`: admins); default: your own.",
    )
    all_subjects: bool = strawberry.field(
        default=False, description="Every subject's decisions in your tenant (policy action `audit.read`)."
    )
    action: str | None = None
    allow: bool | None = None
    resource_ref: str | None = strawberry.field(
        default=None, description="e.g. `artifact_id:<id>`, `uri:<uri>`, `execution_id:<id>`."
    )
    since: datetime | None = None
    until: datetime | None = None
