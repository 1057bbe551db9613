"""Governance over what is already stored: policy audits and the decision-chain sealer.

:func:`audit_policies` re-evaluates every stored artifact against the policy
revision in force and reports what would now be denied. :class:`DecisionSealer`
links the decision log's new entries into its hash chain, in the background.
Both work through the plane's ports only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from artifact_plane.errors import ArtifactPlaneError, ConfigurationError, InvalidInputError
from artifact_plane.ids import validate_id
from artifact_plane.models import ArtifactFilter, ArtifactRecord, PolicyInput, Subject
from artifact_plane.plane import ArtifactPlane
from artifact_plane.ports.decisions import ChainedDecisionLog

__all__ = [
    "AUDITOR",
    "DEFAULT_CHECKS",
    "OWNING_REALM",
    "AuditCheck",
    "AuditReport",
    "DecisionSealer",
    "Violation",
    "audit_policies",
    "chained_log",
    "rule_of",
]

logger = logging.getLogger(__name__)

AUDITOR = "policy-audit"  # the subject id when a record names no creator
OWNING_REALM = "owner"  # act for the realm that holds each artifact
Progress = Callable[[int], None]


@dataclass(frozen=True)
class AuditCheck:
    """One question asked of every artifact: may a subject with ``roles`` do ``action`` to it now?"""

    action: str
    roles: tuple[str, ...]


# Would its realm still be allowed to read it, and to write it as it is?
DEFAULT_CHECKS = (AuditCheck("read", ("reader",)), AuditCheck("create", ("writer",)))


def rule_of(reason: str) -> str:
    """The rule a reason names: its prefix before ``:`` (``realm_read: …`` → ``realm_read``)."""
    head, sep, _ = reason.partition(":")
    return head.strip() if sep and head.strip() and " " not in head.strip() else "unlabelled"


@dataclass(frozen=True)
class Violation:
    """A stored artifact the policy in force would now deny."""

    tenant: str
    artifact_id: str
    realm: str
    artifact_type: str
    uri: str | None
    action: str
    subject: str
    reasons: tuple[str, ...]


@dataclass
class AuditReport:
    """What an audit found; :meth:`groups` counts violations by rule, realm and action."""

    revision: str
    engine: str
    checks: tuple[AuditCheck, ...]
    tenants: list[str] = field(default_factory=list)
    scanned: int = 0
    decisions: int = 0
    violations: list[Violation] = field(default_factory=list)

    @property
    def denied_artifacts(self) -> int:
        return len({(v.tenant, v.artifact_id) for v in self.violations})

    def groups(self) -> list[tuple[str, str, str, int]]:
        """``(rule, realm, action, count)``, most violations first; a denial counts once per rule it names."""
        counts: Counter[tuple[str, str, str]] = Counter()
        for violation in self.violations:
            for rule in dict.fromkeys(rule_of(r) for r in violation.reasons or ("",)):
                counts[(rule, violation.realm, violation.action)] += 1
        return [(*key, n) for key, n in sorted(counts.items(), key=lambda item: (-item[1], item[0]))]

    def to_json(self) -> dict[str, Any]:
        return {
            "revision": self.revision,
            "engine": self.engine,
            "checks": [{"action": c.action, "roles": list(c.roles)} for c in self.checks],
            "tenants": self.tenants,
            "scanned": self.scanned,
            "decisions": self.decisions,
            "denied_artifacts": self.denied_artifacts,
            "groups": [
                {"rule": rule, "realm": realm, "action": action, "count": n}
                for rule, realm, action, n in self.groups()
            ],
            "violations": [{**asdict(v), "reasons": list(v.reasons)} for v in self.violations],
        }


def chained_log(plane: ArtifactPlane) -> ChainedDecisionLog:
    """The plane's decision log as a hash-chained log.

    Raises:
        ConfigurationError: the plane's log keeps no chain.
    """
    log = plane.decisions
    if not isinstance(log, ChainedDecisionLog):
        raise ConfigurationError(
            "AP_REGISTRY_URL", f"the decision log {log!r} keeps no hash chain; use the SQL or memory registry"
        )
    return log


def _auditor(record: ArtifactRecord, check: AuditCheck, realm: str | None) -> Subject:
    acting_realm = record.realm if realm == OWNING_REALM else realm
    return Subject(
        id=record.created_by or AUDITOR, tenant=record.tenant_id, roles=check.roles, realm=acting_realm
    )


async def audit_policies(
    plane: ArtifactPlane,
    *,
    tenants: Sequence[str] | None = None,
    checks: Sequence[AuditCheck] = DEFAULT_CHECKS,
    realm: str | None = OWNING_REALM,
    batch: int = 500,
    progress: Progress | None = None,
) -> AuditReport:
    """Re-evaluate every stored artifact against the policy in force; report what would be denied.

    Artifacts are read page by page (``batch`` records) and each page is
    decided in one :meth:`~artifact_plane.ports.policy.PolicyEngine.decide_many`
    call per check. The audit's own decisions are not written to the decision
    log: it asks "what if", it does not act.

    Args:
        tenants: the tenants to audit; default every tenant the decision log
            knows (every create is logged, so every tenant that stored anything).
        checks: the (action, roles) questions asked of each artifact.
        realm: whom the subject acts for: :data:`OWNING_REALM` (each
            artifact's own realm), a realm id (may that realm read it?), or
            None (a person acting for no realm).
        progress: called with the number of artifacts scanned so far.

    Raises:
        InvalidInputError: ``batch`` below 1, no checks, or a bad tenant or realm id.
        BackendUnavailableError: the registry, the log or the engine is down.
    """
    if batch < 1:
        raise InvalidInputError("batch", f"{batch} must be at least 1")
    if not checks:
        raise InvalidInputError("checks", "give at least one action to check")
    if realm not in (None, OWNING_REALM):
        validate_id(realm, "realm")
    report = AuditReport(revision=plane.policy.revision, engine=plane.policy.name, checks=tuple(checks))
    if tenants is not None:
        report.tenants = sorted(validate_id(t, "tenant") for t in tenants)
    else:
        report.tenants = await chained_log(plane).tenants()
    for tenant in report.tenants:
        after = None
        while True:
            page = await plane.registry.list_artifacts(tenant, ArtifactFilter(), limit=batch, after=after)
            if not page:
                break
            await _audit_page(plane, page, checks, realm, report)
            report.scanned += len(page)
            if progress is not None:
                progress(report.scanned)
            if len(page) < batch:
                break
            after = (page[-1].created_at, page[-1].artifact_id)
    if report.revision != plane.policy.revision:
        logger.warning(
            "the policy changed during the audit (%s → %s)", report.revision, plane.policy.revision
        )
    return report


async def _audit_page(
    plane: ArtifactPlane,
    page: Sequence[ArtifactRecord],
    checks: Sequence[AuditCheck],
    realm: str | None,
    report: AuditReport,
) -> None:
    for check in checks:
        requests = [
            PolicyInput(subject=_auditor(r, check, realm), action=check.action, resource=r.resource())
            for r in page
        ]
        decisions = await plane.policy.decide_many(requests)
        report.decisions += len(decisions)
        for record, request, decision in zip(page, requests, decisions, strict=True):
            if not decision.allow:
                report.violations.append(
                    Violation(
                        tenant=record.tenant_id,
                        artifact_id=record.artifact_id,
                        realm=record.realm,
                        artifact_type=record.artifact_type,
                        uri=record.uri,
                        action=check.action,
                        subject=request.subject.id,
                        reasons=decision.reasons,
                    )
                )


class DecisionSealer:
    """Seals the decision log's new entries every ``interval`` seconds until stopped.

    Every API replica may run one: the log's per-tenant lock makes them take
    turns. A failed pass (the database is down) is logged and retried.
    """

    def __init__(self, log: ChainedDecisionLog, *, interval: float = 1.0, batch: int = 1000) -> None:
        self.log = log
        self.interval = interval
        self.batch = batch
        self.sealed = 0
        self.failures = 0

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                self.sealed += await self.log.seal_all(limit=self.batch)
            except ArtifactPlaneError as exc:
                self.failures += 1
                logger.warning("sealing the decision log failed, will retry: %s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.interval)
