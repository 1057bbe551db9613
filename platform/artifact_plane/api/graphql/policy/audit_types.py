"""GraphQL types of the policy audit: the report ``artifact-plane audit run --json`` prints."""

from __future__ import annotations

import strawberry

from artifact_plane.audit import AuditReport, Violation, rule_of


@strawberry.type(description="One question the audit asked of every artifact.")
class PolicyAuditCheck:
    action: str
    roles: list[str]


@strawberry.type(description="How many violations one rule caused in one realm for one action.")
class PolicyAuditGroup:
    rule: str
    realm: str
    action: str
    count: int


@strawberry.type(description="A stored artifact the policy in force would now deny.")
class PolicyViolation:
    artifact_id: strawberry.ID
    realm: str
    artifact_type: str
    uri: str | None
    action: str
    subject_id: str = strawberry.field(description="Whom the audit asked as (the artifact's creator).")
    reasons: list[str]
    rules: list[str] = strawberry.field(description="The rules the reasons name (their prefix before ':').")

    @classmethod
    def from_violation(cls, violation: Violation) -> PolicyViolation:
        return cls(
            artifact_id=strawberry.ID(violation.artifact_id),
            realm=violation.realm,
            artifact_type=violation.artifact_type,
            uri=violation.uri,
            action=violation.action,
            subject_id=violation.subject,
            reasons=list(violation.reasons),
            rules=list(dict.fromkeys(rule_of(reason) for reason in violation.reasons)),
        )


@strawberry.type(description="What re-checking the stored artifacts against the policy in force found.")
class PolicyAuditReport:
    tenant: str
    revision: str = strawberry.field(description="The policy revision that decided (the last one).")
    revisions: list[str] = strawberry.field(
        description="Every revision that decided a page, in order (two: the policy changed meanwhile)."
    )
    engine: str
    checks: list[PolicyAuditCheck]
    scanned: int = strawberry.field(description="Stored artifacts re-checked.")
    decisions: int
    denied_artifacts: int = strawberry.field(description="Artifacts denied at least one check.")
    violation_count: int = strawberry.field(description="(artifact, action) pairs denied, all of them.")
    groups: list[PolicyAuditGroup] = strawberry.field(description="Violations by rule, realm and action.")
    violations: list[PolicyViolation] = strawberry.field(
        description="The first `first` violations (capped, not paged: `artifact-plane audit run` lists all)."
    )

    @classmethod
    def from_report(cls, tenant: str, report: AuditReport, first: int) -> PolicyAuditReport:
        return cls(
            tenant=tenant,
            revision=report.revision,
            revisions=list(report.revisions),
            engine=report.engine,
            checks=[PolicyAuditCheck(action=c.action, roles=list(c.roles)) for c in report.checks],
            scanned=report.scanned,
            decisions=report.decisions,
            denied_artifacts=report.denied_artifacts,
            violation_count=len(report.violations),
            groups=[
                PolicyAuditGroup(rule=rule, realm=realm, action=action, count=count)
                for rule, realm, action, count in report.groups()
            ],
            violations=[PolicyViolation.from_violation(v) for v in report.violations[:first]],
        )
