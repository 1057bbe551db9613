"""Queries of the policy area: ``policyDecisions(filter, first, after)`` (and ``policyAudit``, in audit.py).

Who may read which decisions: every caller reads the decisions made about
their own requests, within their tenant. Another subject's decisions, or
every subject's, take the policy action ``audit.read`` (admins, in the
repository's policies); that decision is itself logged.
"""

from __future__ import annotations

from typing import Annotated

import strawberry
from pydantic import ValidationError

from artifact_plane.api.graphql.common import PageInfo, check_first
from artifact_plane.api.graphql.context import ApiContext
from artifact_plane.api.graphql.permissions import authenticated
from artifact_plane.api.graphql.policy.audit import PolicyAuditQueries
from artifact_plane.api.graphql.policy.types import (
    PolicyDecision,
    PolicyDecisionConnection,
    PolicyDecisionEdge,
    PolicyDecisionFilter,
)
from artifact_plane.errors import InvalidInputError
from artifact_plane.models import DecisionFilter
from artifact_plane.pagination import decode_cursor, encode_cursor

Info = strawberry.Info[ApiContext, None]


async def resolve_policy_decisions(
    info: Info,
    filter_: Annotated[PolicyDecisionFilter | None, strawberry.argument(name="filter")] = None,
    first: int | None = None,
    after: str | None = None,
) -> PolicyDecisionConnection:
    me = info.context.require_subject()
    wanted = filter_ or PolicyDecisionFilter()
    size = check_first(first, info.context.settings)
    if wanted.all_subjects and wanted.subject_id is not None:
        raise InvalidInputError("filter", "give subjectId or allSubjects, not both")
    subject_id: str | None = me.id
    if wanted.all_subjects or (wanted.subject_id is not None and wanted.subject_id != me.id):
        scope = {"tenant_id": me.tenant, "subject_id": wanted.subject_id or "*"}
        await info.context.plane.authz.require(me, "audit.read", [scope])
        subject_id = wanted.subject_id
    try:
        query = DecisionFilter(
            subject_id=subject_id,
            action=wanted.action,
            allow=wanted.allow,
            resource_ref=wanted.resource_ref,
            since=wanted.since,
            until=wanted.until,
        )
    except ValidationError as exc:
        raise InvalidInputError("filter", str(exc.errors()[0]["msg"])) from None
    rows = await info.context.plane.decisions.query(
        me.tenant, query, limit=size + 1, after=decode_cursor(after)
    )
    more = len(rows) > size
    edges = [
        PolicyDecisionEdge(
            cursor=encode_cursor(r.created_at, r.decision_id), node=PolicyDecision.from_record(r)
        )
        for r in rows[:size]
    ]
    return PolicyDecisionConnection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=more,
            end_cursor=edges[-1].cursor if edges else after,
            has_previous_page=after is not None,
            start_cursor=edges[0].cursor if edges else None,
        ),
    )


@strawberry.type
class PolicyQueries(PolicyAuditQueries):
    policy_decisions: PolicyDecisionConnection | None = strawberry.field(
        resolver=resolve_policy_decisions,
        extensions=[authenticated()],
        description="The audit log of policy decisions on your requests, oldest first.",
    )
