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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from artifact_plane.errors import ArtifactPlaneError, ConfigurationError, InvalidInputError
from artifact_plane.ids import validate_id
from artifact_plane.models import ArtifactFilter, PolicyInput, Subject, scanned_fields
from artifact_plane.plane import ArtifactPlane
from artifact_plane.ports.decisions import ChainedDecisionLog
from artifact_plane.ports.registry import ResourcePage

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
    "checks_for",
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
# The role an action is asked with when none is given (the least role that may do it).
ROLES_FOR: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(("read", "list", "lineage.read", "export"), ("reader",)),
    **dict.fromkeys(("create", "update", "lineage.register"), ("writer",)),
    **dict.fromkeys(("delete", "retention"), ("steward",)),
}


def checks_for(actions: Sequence[str] | None, roles: Sequence[str] | None = None) -> list[AuditCheck]:
    """The checks for ``actions`` (default :data:`DEFAULT_CHECKS`), each asked with ``roles``.

    Without ``roles``, each action is asked with the least role that may do
    it in the shipped policies (reader to read, writer to write, steward to
    delete, admin otherwise).
    """
    chosen = list(dict.fromkeys(actions)) if actions else [check.action for check in DEFAULT_CHECKS]
    if roles is not None:
        return [AuditCheck(action, tuple(roles)) for action in chosen]
    return [AuditCheck(action, ROLES_FOR.get(action, ("admin",))) for action in chosen]


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
    # Every policy revision that decided a page, in order (more than one: the policy changed mid-audit).
    revisions: list[str] = field(default_factory=list)

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
            "revisions": self.revisions,
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


class _Subjects:
    """The audit's subjects, each validated once: one per (creator, tenant, roles, realm)."""

    def __init__(self, realm: str | None) -> None:
        self.realm = realm
        self._made: dict[tuple[str, str, tuple[str, ...], str | None], Subject] = {}

    def of(self, resource: Mapping[str, Any], check: AuditCheck) -> Subject:
        acting_realm = resource["realm"] if self.realm == OWNING_REALM else self.realm
        key = (resource["created_by"] or AUDITOR, resource["tenant_id"], check.roles, acting_realm)
        subject = self._made.get(key)
        if subject is None:
            subject = self._made[key] = Subject(id=key[0], tenant=key[1], roles=key[2], realm=key[3])
        return subject


def _covers(read: frozenset[str] | None, needed: frozenset[str] | None) -> bool:
    """Whether resources read with ``read`` fields hold everything ``needed`` (None: every field)."""
    return read is None or (needed is not None and scanned_fields(needed) <= read)


async def audit_policies(
    plane: ArtifactPlane,
    *,
    tenants: Sequence[str] | None = None,
    checks: Sequence[AuditCheck] = DEFAULT_CHECKS,
    realm: str | None = OWNING_REALM,
    within: ArtifactFilter | None = None,
    batch: int = 500,
    progress: Progress | None = None,
) -> AuditReport:
    """Re-evaluate every stored artifact against the policy in force; report what would be denied.

    Artifacts are read page by page (``batch`` records), the next page read
    while the current one is decided; each page is decided in one
    :meth:`~artifact_plane.ports.policy.PolicyEngine.decide_many` call for
    every check (the engine decides each distinct request once and many per
    query). Only the resource fields the engine says its policies read
    (:attr:`~artifact_plane.ports.policy.PolicyEngine.resource_fields`) are
    read from the registry, without building records; a page read before a
    policy change that reads more is read again. Each artifact is asked as
    its creator (:data:`AUDITOR` when the record names none) with the check's
    roles. The audit's own decisions are not written to the decision log: it
    asks "what if", it does not act. If the policy changes during the audit,
    later pages are decided by the new revision and ``report.revisions``
    lists both.

    Args:
        tenants: the tenants to audit; default every tenant the decision log
            knows (every create is logged, so every tenant that stored anything).
        checks: the (action, roles) questions asked of each artifact.
        realm: whom the subject acts for: :data:`OWNING_REALM` (each
            artifact's own realm), a realm id (may that realm read it?), or
            None (a person acting for no realm).
        within: which stored artifacts to audit (e.g. one realm's); default all.
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
    subjects = _Subjects(realm)
    stored = within or ArtifactFilter()
    for tenant in report.tenants:

        async def read(
            after: tuple[datetime, str] | None, tenant: str = tenant
        ) -> tuple[ResourcePage, frozenset[str] | None]:
            needed = plane.policy.resource_fields
            fields = None if needed is None else scanned_fields(needed)
            scan = plane.registry.scan_resources
            return await scan(tenant, stored, fields=fields, limit=batch, after=after), fields

        start: tuple[datetime, str] | None = None
        page, fields = await read(start)
        while page.resources:
            # Read the next page while this one is decided (both work off the event loop).
            following = asyncio.ensure_future(read(page.after)) if len(page.resources) == batch else None
            try:
                while True:
                    decided = await _audit_page(plane, page.resources, checks, subjects)
                    if _covers(fields, plane.policy.resource_fields):
                        break
                    # The policy changed under us and reads a field this page lacks: read it again.
                    page, fields = await read(start)
            except BaseException:
                if following is not None:
                    following.cancel()
                    with contextlib.suppress(BaseException):
                        await following
                raise
            decided.add_to(report)
            report.scanned += len(page.resources)
            if progress is not None:
                progress(report.scanned)
            start = page.after
            if following is None:
                break
            page, fields = await following
    if len(report.revisions) > 1 or (report.revisions and report.revisions[-1] != report.revision):
        logger.warning("the policy changed during the audit: %s", " → ".join(report.revisions))
    if report.revisions:
        report.revision = report.revisions[-1]
    return report


@dataclass
class _Decided:
    """One page's outcome, added to the report once the page needs no second reading."""

    decisions: int
    revisions: list[str]
    violations: list[Violation]

    def add_to(self, report: AuditReport) -> None:
        report.decisions += self.decisions
        for revision in self.revisions:
            if not report.revisions or report.revisions[-1] != revision:
                report.revisions.append(revision)
        report.violations.extend(self.violations)


async def _audit_page(
    plane: ArtifactPlane,
    page: Sequence[dict[str, Any]],
    checks: Sequence[AuditCheck],
    subjects: _Subjects,
) -> _Decided:
    asked: list[tuple[dict[str, Any], AuditCheck, Subject]] = []
    requests: list[PolicyInput] = []
    for check in checks:
        for resource in page:
            subject = subjects.of(resource, check)
            asked.append((resource, check, subject))
            requests.append(PolicyInput(subject, check.action, resource))
    decisions = await plane.policy.decide_many(requests)
    # Violations in the order the old per-check loop gave them: by check, then by artifact.
    violations = [
        Violation(
            tenant=resource["tenant_id"],
            artifact_id=resource["artifact_id"],
            realm=resource["realm"],
            artifact_type=resource["artifact_type"],
            uri=resource["uri"],
            action=check.action,
            subject=subject.id,
            reasons=decision.reasons,
        )
        for (resource, check, subject), decision in zip(asked, decisions, strict=True)
        if not decision.allow
    ]
    return _Decided(len(decisions), list(dict.fromkeys(d.revision for d in decisions)), violations)


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
