"""ArtifactPlane: the ports wired together, and the operator's sweeps.

Callers act through :meth:`ArtifactPlane.for_subject`; the sweeps (TTL, GC)
run on behalf of the operator and touch every tenant.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from artifact_plane.authz import Authorizer
from artifact_plane.classification import Classifier
from artifact_plane.errors import ConflictError, NotFoundError
from artifact_plane.masking import InputMask
from artifact_plane.models import ArtifactStatus, Execution, StoredPayload, Subject, utcnow
from artifact_plane.ports import DecisionLog, LineageStore, PayloadStore, PolicyEngine, Registry
from artifact_plane.scoped import ScopedPlane
from artifact_plane.settings import Settings

GC_BATCH = 500
Progress = Callable[[int], None]


@dataclass
class GcReport:
    """What a garbage collection did."""

    scanned: int = 0
    deleted: int = 0
    bytes_freed: int = 0
    kept: int = 0
    temp_files_removed: int = 0
    deleted_digests: list[str] = field(default_factory=list)


class ArtifactPlane:
    """The registry, payload store, lineage store and policy, kept apart and ordered."""

    def __init__(
        self,
        *,
        registry: Registry,
        payloads: PayloadStore,
        lineage: LineageStore,
        policy: PolicyEngine,
        decisions: DecisionLog,
        settings: Settings | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.registry = registry
        self.payloads = payloads
        self.lineage = lineage
        self.policy = policy
        self.decisions = decisions
        self.settings = settings or Settings()
        self.clock = clock
        self.authz = Authorizer(policy, decisions, InputMask.from_settings(self.settings))
        self.classifier = Classifier(self, self.settings.classification_tags)
        # Decisions that allow a create commit with its record when the registry
        # holds the log: one transaction (one fsync) per write instead of two.
        self.decisions_commit_with_records = registry.holds_decisions_of(decisions)
        self._events: dict[tuple[str, str], asyncio.Event] = {}

    def for_subject(self, subject: Subject) -> ScopedPlane:
        """A handle whose every operation is done as, and checked for, ``subject``."""
        return ScopedPlane(self, subject)

    # -------------------------------------------------------- status changes

    def changed(self, tenant: str, artifact_id: str) -> asyncio.Event:
        """An event set at the next status change of an artifact in this process."""
        return self._events.setdefault((tenant, artifact_id), asyncio.Event())

    def notify(self, tenant: str, artifact_id: str) -> None:
        event = self._events.pop((tenant, artifact_id), None)
        if event is not None:
            event.set()

    # ---------------------------------------------------------------- sweeps

    async def sweep_ttl(self, *, now: datetime | None = None, batch: int = 500) -> int:
        """Mark every ready artifact whose TTL ran out as expired; return how many."""
        total = 0
        while True:
            expired = await self.registry.expire_due(now or self.clock(), batch)
            for record in expired:
                self.notify(record.tenant_id, record.artifact_id)
            total += len(expired)
            if len(expired) < batch:
                return total

    async def sweep_abandoned_executions(
        self, *, older_than: timedelta | None = None, now: datetime | None = None, batch: int = 500
    ) -> list[Execution]:
        """Fail executions still running long after they started, and their pending outputs.

        A process that dies inside a handler leaves its execution ``running``
        and its outputs ``pending`` for ever; after ``older_than`` (default
        ``AP_EXECUTION_ABANDON_SECONDS``, longer than any handler should run)
        they are failed, as a handler's own failure would have left them.
        """
        now = now or self.clock()
        limit = older_than or timedelta(seconds=self.settings.execution_abandon_seconds)
        reason = (
            f"abandoned: still running {limit.total_seconds():g} s after it started "
            "(the process running it stopped); run the intent again"
        )
        failed: list[Execution] = []
        while True:
            swept = await self.registry.fail_abandoned_executions(now - limit, reason, now, batch)
            for execution in swept:
                await self._fail_pending_outputs(execution, now)
            failed += swept
            if len(swept) < batch:
                return failed

    async def _fail_pending_outputs(self, execution: Execution, now: datetime) -> None:
        outputs = await self.registry.find_by_execution(execution.tenant_id, execution.execution_id)
        for record in outputs:
            if record.status is not ArtifactStatus.PENDING:
                continue
            try:
                await self.registry.update_status(
                    record.tenant_id, record.artifact_id, [ArtifactStatus.PENDING], ArtifactStatus.FAILED, now
                )
            except (ConflictError, NotFoundError):
                continue  # it left pending, or was deleted, meanwhile: leave it be
            self.notify(record.tenant_id, record.artifact_id)

    async def collect_garbage(
        self,
        *,
        grace: timedelta | None = None,
        now: datetime | None = None,
        progress: Progress | None = None,
    ) -> GcReport:
        """Delete payloads no record needs: orphans and those of long-expired artifacts.

        A payload is kept while any record of its tenant references its
        digest (reference counting by digest), and while it is younger than
        the grace period — a writer may be between storing the payload and
        committing its record.
        """
        now = now or self.clock()
        cutoff = now - (grace if grace is not None else timedelta(seconds=self.settings.gc_grace_seconds))
        report = GcReport()
        report.temp_files_removed = await self.payloads.clean_temp(cutoff)
        pending: dict[str, list[StoredPayload]] = defaultdict(list)
        async for stored in self.payloads.scan():
            report.scanned += 1
            if stored.modified_at >= cutoff:
                report.kept += 1
                continue
            pending[stored.tenant_id].append(stored)
            if len(pending[stored.tenant_id]) >= GC_BATCH:
                await self._collect(pending.pop(stored.tenant_id), cutoff, report)
            if progress is not None:
                progress(report.scanned)
        for batch in pending.values():
            await self._collect(batch, cutoff, report)
        if progress is not None:
            progress(report.scanned)
        return report

    async def _collect(self, batch: list[StoredPayload], cutoff: datetime, report: GcReport) -> None:
        tenant = batch[0].tenant_id
        needed = await self.registry.referenced_digests(tenant, [p.sha256 for p in batch], cutoff)
        for stored in batch:
            if stored.sha256 in needed:
                report.kept += 1
            elif await self.payloads.delete_if_stale(tenant, stored.sha256, cutoff):
                report.deleted += 1
                report.bytes_freed += stored.size_bytes
                report.deleted_digests.append(stored.sha256)

    # ---------------------------------------------------------------- health

    async def health(self) -> dict[str, str]:
        """``{part: "ok" | error}`` for every backend (for /readyz)."""
        result: dict[str, str] = {}
        parts: dict[str, Registry | PayloadStore | LineageStore | PolicyEngine] = {
            "registry": self.registry,
            "payloads": self.payloads,
            "lineage": self.lineage,
            "policy": self.policy,
        }
        for name, part in parts.items():
            try:
                await part.ping()
                result[name] = "ok"
            except Exception as exc:
                result[name] = f"{type(exc).__name__}: {exc}"
        return result

    async def close(self) -> None:
        for part in (self.policy, self.decisions, self.lineage, self.payloads, self.registry):
            await part.close()


@asynccontextmanager
async def open_plane(settings: Settings | None = None) -> AsyncIterator[ArtifactPlane]:
    """Build the plane from settings (``AP_*`` environment when omitted), ready to use."""
    from artifact_plane.wiring import build_plane

    plane = build_plane(settings or Settings())
    await plane.registry.initialize()
    try:
        yield plane
    finally:
        await plane.close()
