"""The query ``policyAudit``: the caller's tenant re-checked against the policy in force.

The same audit as ``artifact-plane audit run``, for one tenant: the
caller's, from the token. It takes the policy action ``audit.read`` (admins,
in the repository's policies), decided and logged like every other
decision before anything is read. The audit runs while the request waits:
for a large tenant, use the CLI.
"""

from __future__ import annotations

import typing
from typing import Annotated

import strawberry

from artifact_plane.api.graphql.common import check_first
from artifact_plane.api.graphql.context import ApiContext
from artifact_plane.api.graphql.permissions import authenticated
from artifact_plane.api.graphql.policy.audit_types import PolicyAuditReport
from artifact_plane.audit import OWNING_REALM, audit_policies, checks_for
from artifact_plane.errors import InvalidInputError
from artifact_plane.ids import validate_id
from artifact_plane.models import Action, ArtifactFilter

Info = strawberry.Info[ApiContext, None]
KNOWN_ACTIONS = typing.get_args(Action)
NO_REALM = "none"


def _actions(actions: list[str] | None) -> list[str] | None:
    for action in actions or ():
        if action not in KNOWN_ACTIONS:
            raise InvalidInputError(
                "actions", f"{action!r} is not an action (known: {', '.join(KNOWN_ACTIONS)})"
            )
    return actions or None


async def resolve_policy_audit(
    info: Info,
    realm: Annotated[
        str | None,
        strawberry.argument(description="Audit only the artifacts this realm holds (default: all)."),
    ] = None,
    actions: Annotated[
        list[str] | None,
        strawberry.argument(
            description="The actions to re-check (default: read and create), each asked with the least "
            "role that may do it (reader to read, writer to write, steward to delete)."
        ),
    ] = None,
    as_realm: Annotated[
        str,
        strawberry.argument(
            description="Act for this realm: 'owner' (each artifact's own realm), 'none', or a realm id."
        ),
    ] = OWNING_REALM,
    first: Annotated[
        int | None, strawberry.argument(description="How many violations to list (the counts cover all).")
    ] = None,
) -> PolicyAuditReport:
    me = info.context.require_subject()
    size = check_first(first, info.context.settings)
    checks = checks_for(_actions(actions))
    within = ArtifactFilter(realm=validate_id(realm, "realm")) if realm is not None else None
    acting = None if as_realm == NO_REALM else as_realm
    if acting not in (None, OWNING_REALM):
        validate_id(acting, "asRealm")
    plane = info.context.plane
    await plane.authz.require(me, "audit.read", [{"tenant_id": me.tenant, "subject_id": "*"}])
    report = await audit_policies(plane, tenants=[me.tenant], checks=checks, realm=acting, within=within)
    return PolicyAuditReport.from_report(me.tenant, report, size)


@strawberry.type
class PolicyAuditQueries:
    policy_audit: PolicyAuditReport = strawberry.field(
        resolver=resolve_policy_audit,
        extensions=[authenticated()],
        description=(
            "Re-check your tenant's stored artifacts against the policy in force: what would now be "
            "denied, grouped by rule and realm (needs audit.read; admins). Runs while you wait."
        ),
    )
