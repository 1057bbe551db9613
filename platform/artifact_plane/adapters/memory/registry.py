"""In-memory registry: records, names, versions and executions in dicts."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime

from artifact_plane.adapters.memory.decisions import MemoryDecisionLog
from artifact_plane.adapters.memory.lineage import MemoryLineageStore
from artifact_plane.errors import ConflictError, InvalidInputError, NotFoundError
from artifact_plane.ids import SemVer, uri_glob_regex
from artifact_plane.models import (
    ArtifactFilter,
    ArtifactRecord,
    ArtifactStatus,
    DecisionRecord,
    Execution,
    ExecutionStatus,
    LineageEdge,
)
from artifact_plane.ports.decisions import DecisionLog
from artifact_plane.ports.registry import RETAINABLE, Registry, check_retention

__all__ = ["MemoryRegistry"]


def _semver(version: str | None) -> SemVer | None:
    if version is None:
        return None
    try:
        return SemVer.parse(version)
    except InvalidInputError:
        return None


def _copy(record: ArtifactRecord) -> ArtifactRecord:
    # Records are frozen, but ``metadata`` is a dict: never share it with a caller.
    return record.model_copy(deep=True)


class _Matcher:
    """An :class:`ArtifactFilter` compiled once for a listing."""

    def __init__(self, query: ArtifactFilter) -> None:
        self.query = query
        self.statuses = frozenset(query.status)
        self.tags = frozenset(query.tags)
        self.uri = re.compile(uri_glob_regex(query.uri_glob)[1]) if query.uri_glob else None
        self.min_version = SemVer.parse(query.min_version) if query.min_version else None

    def __call__(self, record: ArtifactRecord) -> bool:
        q = self.query
        if q.realm is not None and record.realm != q.realm:
            return False
        if q.artifact_type is not None and record.artifact_type != q.artifact_type:
            return False
        if self.statuses and record.status not in self.statuses:
            return False
        if not self.tags <= {*record.tags, *record.inherited_tags}:
            return False
        if self.uri is not None and (record.uri is None or not self.uri.fullmatch(record.uri)):
            return False
        if self.min_version is not None:
            version = _semver(record.version)
            if version is None or version < self.min_version:
                return False
        if q.created_after is not None and record.created_at < q.created_after:
            return False
        if q.created_before is not None and record.created_at >= q.created_before:
            return False
        return q.execution_id is None or record.execution_id == q.execution_id


class MemoryRegistry(Registry):
    """The registry in one process's memory; the reference every backend must match.

    Args:
        lineage: the store that receives the edges of inserted records. Without
            one, edges go to a private :class:`MemoryLineageStore`, available as
            :attr:`lineage`. Writes hold that store's lock, so a record and its
            edges land together.
        decisions: the decision log that receives the decisions given with
            inserts (see :meth:`holds_decisions_of`); none when omitted.
    """

    def __init__(
        self, lineage: MemoryLineageStore | None = None, decisions: MemoryDecisionLog | None = None
    ) -> None:
        self.lineage = lineage if lineage is not None else MemoryLineageStore()
        self.decisions = decisions
        self._records: dict[str, dict[str, ArtifactRecord]] = {}
        self._versions: dict[tuple[str, str, str], str] = {}  # (tenant, uri, version_key) -> id
        self._names: set[tuple[str, str]] = set()
        self._executions: dict[tuple[str, str], Execution] = {}

    async def initialize(self) -> None:
        """Nothing to create."""

    async def close(self) -> None:
        """Nothing to release; the data stays until the object goes."""

    async def ping(self) -> None:
        """Memory always answers."""

    def _tenant(self, tenant: str) -> dict[str, ArtifactRecord]:
        return self._records.get(tenant, {})

    @staticmethod
    def _version_slot(record: ArtifactRecord) -> tuple[str, str, str] | None:
        if record.uri is None or record.version_key is None:
            return None
        return (record.tenant_id, record.uri, record.version_key)

    async def insert_artifact(
        self,
        record: ArtifactRecord,
        edges: Sequence[LineageEdge] = (),
        *,
        decisions: Sequence[DecisionRecord] = (),
    ) -> None:
        """Insert a record and hand its edges to :attr:`lineage` (decisions to the log), atomically.

        Raises:
            ConflictError: the ID, or the URI and version, exist already; nothing is written.
            InvalidInputError: an edge belongs to another tenant than the record.
        """
        await self.insert_artifacts([(record, edges)], decisions=decisions)

    def holds_decisions_of(self, log: DecisionLog) -> bool:
        """True for the decision log given at construction."""
        return self.decisions is not None and log is self.decisions

    async def insert_artifacts(
        self,
        items: Sequence[tuple[ArtifactRecord, Sequence[LineageEdge]]],
        *,
        decisions: Sequence[DecisionRecord] = (),
    ) -> None:
        """Insert many records with their edges, all or none.

        Raises:
            ConflictError: one of them exists already, or the batch repeats an
                ID or a URI and version; nothing is written.
            InvalidInputError: an edge belongs to another tenant than its record.
        """
        if decisions and self.decisions is None:
            raise InvalidInputError("decisions", "this registry holds no decision log")
        tenants = {record.tenant_id for record, _ in items}
        strangers = [d.decision_id for d in decisions if d.tenant_id not in tenants]
        if strangers:
            raise InvalidInputError("decisions", f"decisions of another tenant than the records: {strangers}")
        async with self.lineage.lock:
            ids: set[tuple[str, str]] = set()
            slots: set[tuple[str, str, str]] = set()
            for record, edges in items:
                foreign = [e.key for e in edges if e.tenant_id != record.tenant_id]
                if foreign:
                    reason = f"edges of another tenant than {record.tenant_id!r}: {foreign}"
                    raise InvalidInputError("edges", reason)
                key = (record.tenant_id, record.artifact_id)
                if record.artifact_id in self._tenant(record.tenant_id) or key in ids:
                    raise ConflictError(record.artifact_id, "an artifact with this ID exists already")
                slot = self._version_slot(record)
                if slot is not None and (slot in self._versions or slot in slots):
                    raise ConflictError(f"{record.uri}@{record.version}", "this version exists already")
                ids.add(key)
                if slot is not None:
                    slots.add(slot)
            for record, edges in items:
                self.lineage.add_edges_locked(edges)
                self._records.setdefault(record.tenant_id, {})[record.artifact_id] = _copy(record)
                slot = self._version_slot(record)
                if slot is not None:
                    self._versions[slot] = record.artifact_id
                if record.uri is not None:
                    self._names.add((record.tenant_id, record.uri))
            if self.decisions is not None:
                self.decisions.append_now(decisions)

    async def claim_name(self, tenant: str, uri: str, *, exclusive: bool) -> bool:
        """Register ``uri``; a name that has versions exists even if never claimed."""
        async with self.lineage.lock:
            if (tenant, uri) in self._names:
                if exclusive:
                    raise ConflictError(uri, "the name exists already")
                return False
            self._names.add((tenant, uri))
            return True

    async def release_name(self, tenant: str, uri: str) -> None:
        """Forget ``uri`` unless a version of it is stored."""
        async with self.lineage.lock:
            if not any(r.uri == uri for r in self._tenant(tenant).values()):
                self._names.discard((tenant, uri))

    async def get_artifact(self, tenant: str, artifact_id: str) -> ArtifactRecord:
        """One record of ``tenant``."""
        record = self._tenant(tenant).get(artifact_id)
        if record is None:
            raise NotFoundError("artifact", artifact_id)
        return _copy(record)

    async def get_many(self, tenant: str, artifact_ids: Sequence[str]) -> dict[str, ArtifactRecord]:
        """The records of ``tenant`` among ``artifact_ids``."""
        records = self._tenant(tenant)
        return {i: _copy(records[i]) for i in dict.fromkeys(artifact_ids) if i in records}

    async def list_artifacts(
        self,
        tenant: str,
        query: ArtifactFilter,
        *,
        limit: int,
        after: tuple[datetime, str] | None = None,
    ) -> list[ArtifactRecord]:
        """Matching records by ``(created_at, artifact_id)``, strictly after ``after``."""
        matches = _Matcher(query)
        found = sorted(
            (r for r in self._tenant(tenant).values() if matches(r)),
            key=lambda r: (r.created_at, r.artifact_id),
        )
        if after is not None:
            found = [r for r in found if (r.created_at, r.artifact_id) > after]
        return [_copy(r) for r in found[: max(limit, 0)]]

    async def list_versions(self, tenant: str, uri: str) -> list[ArtifactRecord]:
        """Every version of ``uri``, lowest semver first."""
        versions = [r for r in self._tenant(tenant).values() if r.uri == uri]

        def order(record: ArtifactRecord) -> tuple[bool, SemVer, datetime, str]:
            version = _semver(record.version)
            return (version is not None, version or SemVer(0, 0, 0), record.created_at, record.artifact_id)

        return [_copy(r) for r in sorted(versions, key=order)]

    async def update_status(
        self,
        tenant: str,
        artifact_id: str,
        expected: Sequence[ArtifactStatus],
        new: ArtifactStatus,
        at: datetime,
    ) -> ArtifactRecord:
        """Compare-and-set the status, stamping ``updated_at``."""
        async with self.lineage.lock:
            records = self._tenant(tenant)
            current = records.get(artifact_id)
            if current is None:
                raise NotFoundError("artifact", artifact_id)
            if current.status not in expected:
                wanted = ", ".join(str(s) for s in expected) or "nothing"
                raise ConflictError(artifact_id, f"status is {current.status}, expected {wanted}")
            updated = current.model_copy(update={"status": new, "updated_at": at})
            records[artifact_id] = updated
            return _copy(updated)

    async def update_retention(
        self,
        tenant: str,
        artifact_id: str,
        *,
        retention_policy: str | None,
        ttl: int | None,
        expires_at: datetime | None,
        at: datetime,
        expected_updated_at: datetime,
    ) -> ArtifactRecord:
        """Compare-and-set the retention fields of a pending or ready record."""
        check_retention(ttl, expires_at)
        async with self.lineage.lock:
            records = self._tenant(tenant)
            current = records.get(artifact_id)
            if current is None:
                raise NotFoundError("artifact", artifact_id)
            if current.status not in RETAINABLE:
                raise ConflictError(
                    artifact_id, f"it is {current.status.value}: its retention can no longer change"
                )
            if current.updated_at != expected_updated_at:
                raise ConflictError(artifact_id, "it changed since it was read; read it again and retry")
            change = {"retention_policy": retention_policy, "ttl": ttl, "expires_at": expires_at}
            updated = current.model_copy(update={**change, "updated_at": at})
            records[artifact_id] = updated
            return _copy(updated)

    async def delete_artifacts(
        self, tenant: str, artifact_ids: Sequence[str], at: datetime
    ) -> list[ArtifactRecord]:
        """Delete the records of ``tenant`` among ``artifact_ids`` and close their edges."""
        async with self.lineage.lock:
            records = self._tenant(tenant)
            deleted = [records.pop(i) for i in dict.fromkeys(artifact_ids) if i in records]
            for record in deleted:
                slot = self._version_slot(record)
                if slot is not None and self._versions.get(slot) == record.artifact_id:
                    del self._versions[slot]
            if deleted:
                self.lineage.close_edges_locked(tenant, [r.artifact_id for r in deleted], at)
            return deleted

    async def find_by_execution(self, tenant: str, execution_id: str) -> list[ArtifactRecord]:
        """Records of ``tenant`` produced by ``execution_id``, oldest first."""
        found = [r for r in self._tenant(tenant).values() if r.execution_id == execution_id]
        return [_copy(r) for r in sorted(found, key=lambda r: (r.created_at, r.artifact_id))]

    async def add_inherited_tags(
        self, tenant: str, artifact_ids: Sequence[str], tags: Sequence[str], at: datetime
    ) -> list[str]:
        """Union ``tags`` into the inherited tags of the given records; return the IDs changed."""
        changed: list[str] = []
        async with self.lineage.lock:
            records = self._tenant(tenant)
            for art_id in dict.fromkeys(artifact_ids):
                current = records.get(art_id)
                if current is None:
                    continue
                merged = tuple(dict.fromkeys((*current.inherited_tags, *tags)))
                if merged != current.inherited_tags:
                    records[art_id] = current.model_copy(update={"inherited_tags": merged, "updated_at": at})
                    changed.append(art_id)
        return changed

    async def expire_due(self, now: datetime, limit: int) -> list[ArtifactRecord]:
        """Expire up to ``limit`` due ready records of any tenant, soonest due first."""
        async with self.lineage.lock:
            due = sorted(
                (
                    r
                    for records in self._records.values()
                    for r in records.values()
                    if r.status == ArtifactStatus.READY and r.expires_at is not None and r.expires_at <= now
                ),
                key=lambda r: (r.expires_at, r.tenant_id, r.artifact_id),
            )
            expired: list[ArtifactRecord] = []
            for record in due[: max(limit, 0)]:
                updated = record.model_copy(update={"status": ArtifactStatus.EXPIRED, "updated_at": now})
                self._records[record.tenant_id][record.artifact_id] = updated
                expired.append(_copy(updated))
            return expired

    async def fail_abandoned_executions(
        self, started_before: datetime, error: str, at: datetime, limit: int
    ) -> list[Execution]:
        """Fail up to ``limit`` executions still running since before ``started_before``, oldest first."""
        async with self.lineage.lock:
            stuck = sorted(
                (
                    e
                    for e in self._executions.values()
                    if e.status is ExecutionStatus.RUNNING and e.started_at < started_before
                ),
                key=lambda e: (e.started_at, e.tenant_id, e.execution_id),
            )[: max(limit, 0)]
            failed = []
            for execution in stuck:
                done = execution.model_copy(
                    update={"status": ExecutionStatus.FAILED, "error": error, "finished_at": at}
                )
                self._executions[(execution.tenant_id, execution.execution_id)] = done
                failed.append(done)
            return failed

    async def referenced_digests(
        self, tenant: str, digests: Sequence[str], expired_before: datetime
    ) -> set[str]:
        """The ``digests`` some record of ``tenant`` still needs (GC grace applied)."""
        wanted = set(digests)
        return {
            r.sha256
            for r in self._tenant(tenant).values()
            if r.sha256 in wanted
            and not (r.status == ArtifactStatus.EXPIRED and r.updated_at < expired_before)
        }

    async def put_execution(self, execution: Execution) -> None:
        """Insert or replace an execution."""
        async with self.lineage.lock:
            self._executions[(execution.tenant_id, execution.execution_id)] = execution

    async def get_execution(self, tenant: str, execution_id: str) -> Execution:
        """One execution of ``tenant``."""
        execution = self._executions.get((tenant, execution_id))
        if execution is None:
            raise NotFoundError("execution", execution_id)
        return execution

    async def get_executions(self, tenant: str, execution_ids: Sequence[str]) -> dict[str, Execution]:
        """The executions of ``tenant`` among ``execution_ids`` (missing ones left out)."""
        found = ((i, self._executions.get((tenant, i))) for i in dict.fromkeys(execution_ids))
        return {i: execution for i, execution in found if execution is not None}
