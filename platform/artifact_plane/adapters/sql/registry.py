"""``SqlRegistry``: artifact records, names, versions and executions in SQL."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, exists, insert, select, tuple_, update

from artifact_plane.adapters.sql.decisions import SqlDecisionLog
from artifact_plane.adapters.sql.engine import SqlDatabase
from artifact_plane.adapters.sql.filters import filtered_artifacts
from artifact_plane.adapters.sql.outbox import enqueue_adds, enqueue_close
from artifact_plane.adapters.sql.rows import (
    CHUNK,
    RecordTakenError,
    chunked,
    close_edges_touching,
    decision_row,
    dialect_insert,
    execution_row,
    insert_ignoring,
    insert_records,
    record_from_row,
    to_execution,
    which_conflict,
)
from artifact_plane.adapters.sql.scan import scan_page
from artifact_plane.adapters.sql.tables import artifact_names, artifact_tags, artifacts, executions
from artifact_plane.adapters.sql.tables import decisions as decisions_table
from artifact_plane.errors import ConflictError, InvalidInputError, NotFoundError
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
from artifact_plane.ports.registry import RETAINABLE, Registry, ResourcePage, check_retention

__all__ = ["SqlRegistry"]

a = artifacts.c


class SqlRegistry(Registry):
    """The registry on SQLite or PostgreSQL; lineage edges share its transactions.

    Args:
        database: the engine shared with ``SqlLineageStore`` and ``SqlDecisionLog``.
        outbox: lineage lives in a graph store: write edge operations to the outbox.
    """

    def __init__(self, database: SqlDatabase, *, outbox: bool = False) -> None:
        self.database = database
        # Lineage in a graph database: a record's edge operations go into the
        # outbox in its transaction (adapters/sql/outbox.py), not lineage_edges.
        self.outbox = outbox

    def __repr__(self) -> str:
        return f"SqlRegistry({self.database!r})"

    async def initialize(self) -> None:
        await self.database.initialize()

    async def close(self) -> None:
        await self.database.dispose()

    async def ping(self) -> None:
        await self.database.ping()

    async def insert_artifact(
        self,
        record: ArtifactRecord,
        edges: Sequence[LineageEdge] = (),
        *,
        decisions: Sequence[DecisionRecord] = (),
    ) -> None:
        await self.insert_artifacts([(record, edges)], decisions=decisions)

    async def insert_artifacts(
        self,
        items: Sequence[tuple[ArtifactRecord, Sequence[LineageEdge]]],
        *,
        decisions: Sequence[DecisionRecord] = (),
    ) -> None:
        """Insert records with their edges and decisions in one transaction: all of them, or none."""
        if not items:
            return
        for record, edges in items:
            foreign = [edge.key for edge in edges if edge.tenant_id != record.tenant_id]
            if foreign:
                raise InvalidInputError(
                    "edges", f"edges of a tenant other than {record.tenant_id!r}: {foreign}"
                )
        tenants = {record.tenant_id for record, _ in items}
        strangers = [d.decision_id for d in decisions if d.tenant_id not in tenants]
        if strangers:
            raise InvalidInputError("decisions", f"decisions of another tenant than the records: {strangers}")
        decision_rows = [decision_row(d) for d in decisions]

        def work(conn: Connection) -> None:
            if self.outbox:
                insert_records(conn, [(record, ()) for record, _ in items])
                enqueue_adds(conn, [edge for _, edges in items for edge in edges])
            else:
                insert_records(conn, items)
            if decision_rows:
                # This write's fresh decisions: a plain INSERT (a duplicate ID would be a bug).
                conn.execute(
                    insert(decisions_table), decision_rows[0] if len(decision_rows) == 1 else decision_rows
                )

        ref = items[0][0].artifact_id if len(items) == 1 else "artifact batch"
        try:
            await self.database.run(work, write=True, conflict_ref=ref)
        except RecordTakenError as taken:
            record = taken.record
            raise await self.database.run(lambda conn: which_conflict(conn, record), write=False) from None

    def holds_decisions_of(self, log: DecisionLog) -> bool:
        """True for a :class:`SqlDecisionLog` on this registry's database."""
        return isinstance(log, SqlDecisionLog) and log.database is self.database

    async def claim_name(self, tenant: str, uri: str, *, exclusive: bool) -> bool:
        def work(conn: Connection) -> bool:
            new = insert_ignoring(
                conn, artifact_names, [{"tenant_id": tenant, "uri": uri}], index_elements=["tenant_id", "uri"]
            )
            if not new and exclusive:
                raise ConflictError(uri, "the name exists already")
            return new == 1

        return await self.database.run(work, write=True, conflict_ref=uri)

    async def release_name(self, tenant: str, uri: str) -> None:
        has_versions = exists().where(a.tenant_id == tenant, a.uri == uri)
        stmt = delete(artifact_names).where(
            artifact_names.c.tenant_id == tenant, artifact_names.c.uri == uri, ~has_versions
        )
        await self.database.run(lambda conn: conn.execute(stmt), write=True)

    async def get_artifact(self, tenant: str, artifact_id: str) -> ArtifactRecord:
        stmt = select(artifacts).where(a.tenant_id == tenant, a.artifact_id == artifact_id)
        row = await self.database.run(lambda conn: conn.execute(stmt).mappings().first(), write=False)
        if row is None:
            raise NotFoundError("artifact", artifact_id)
        return record_from_row(row)

    async def get_many(self, tenant: str, artifact_ids: Sequence[str]) -> dict[str, ArtifactRecord]:
        wanted = list(dict.fromkeys(artifact_ids))
        if not wanted:
            return {}
        found = await self.database.run(lambda conn: _select_ids(conn, tenant, wanted), write=False)
        return {artifact_id: found[artifact_id] for artifact_id in wanted if artifact_id in found}

    async def list_artifacts(
        self,
        tenant: str,
        query: ArtifactFilter,
        *,
        limit: int,
        after: tuple[datetime, str] | None = None,
    ) -> list[ArtifactRecord]:
        if limit <= 0:
            return []
        stmt = filtered_artifacts(tenant, query, limit=limit, after=after)
        return await self.database.run(lambda conn: _records(conn, stmt), write=False)

    async def scan_resources(
        self,
        tenant: str,
        query: ArtifactFilter,
        *,
        fields: Iterable[str] | None,
        limit: int,
        after: tuple[datetime, str] | None = None,
    ) -> ResourcePage:
        if limit <= 0:
            return ResourcePage([], None)
        if fields is None:  # whole documents: through whole records
            return await super().scan_resources(tenant, query, fields=None, limit=limit, after=after)
        wanted = tuple(fields)
        return await self.database.run(
            lambda conn: scan_page(conn, tenant, query, wanted, limit=limit, after=after), write=False
        )

    async def list_versions(self, tenant: str, uri: str) -> list[ArtifactRecord]:
        stmt = (
            select(artifacts)
            .where(a.tenant_id == tenant, a.uri == uri)
            .order_by(a.version_key.is_(None).desc(), a.version_key, a.created_at, a.artifact_id)
        )
        return await self.database.run(lambda conn: _records(conn, stmt), write=False)

    async def update_status(
        self,
        tenant: str,
        artifact_id: str,
        expected: Sequence[ArtifactStatus],
        new: ArtifactStatus,
        at: datetime,
    ) -> ArtifactRecord:
        key = (a.tenant_id == tenant, a.artifact_id == artifact_id)
        allowed = [status.value for status in expected]
        stmt = (
            update(artifacts)
            .where(*key, a.status.in_(allowed))
            .values(status=new.value, updated_at=at)
            .returning(*artifacts.columns)
        )

        def work(conn: Connection) -> ArtifactRecord:
            updated, current = _compare_and_set(conn, stmt, key, artifact_id)
            if updated is not None:
                return updated
            raise ConflictError(artifact_id, f"status is {current}, expected one of {allowed}")

        return await self.database.run(work, write=True, conflict_ref=artifact_id)

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
        check_retention(ttl, expires_at)
        key = (a.tenant_id == tenant, a.artifact_id == artifact_id)
        retainable = [status.value for status in RETAINABLE]
        stmt = (
            update(artifacts)
            .where(*key, a.status.in_(retainable), a.updated_at == expected_updated_at)
            .values(retention_policy=retention_policy, ttl=ttl, expires_at=expires_at, updated_at=at)
            .returning(*artifacts.columns)
        )

        def work(conn: Connection) -> ArtifactRecord:
            updated, current = _compare_and_set(conn, stmt, key, artifact_id)
            if updated is not None:
                return updated
            if current not in retainable:
                raise ConflictError(artifact_id, f"it is {current}: its retention can no longer change")
            raise ConflictError(artifact_id, "it changed since it was read; read it again and retry")

        return await self.database.run(work, write=True, conflict_ref=artifact_id)

    async def delete_artifacts(
        self, tenant: str, artifact_ids: Sequence[str], at: datetime
    ) -> list[ArtifactRecord]:
        wanted = list(dict.fromkeys(artifact_ids))
        if not wanted:
            return []

        def work(conn: Connection) -> list[ArtifactRecord]:
            found = _select_ids(conn, tenant, wanted)
            gone = [artifact_id for artifact_id in wanted if artifact_id in found]
            for chunk in chunked(gone):
                t = artifact_tags.c
                conn.execute(delete(artifact_tags).where(t.tenant_id == tenant, t.artifact_id.in_(chunk)))
                conn.execute(delete(artifacts).where(a.tenant_id == tenant, a.artifact_id.in_(chunk)))
            (enqueue_close if self.outbox else close_edges_touching)(conn, tenant, gone, at)
            return [found[artifact_id] for artifact_id in gone]

        return await self.database.run(work, write=True)

    async def find_by_execution(self, tenant: str, execution_id: str) -> list[ArtifactRecord]:
        stmt = (
            select(artifacts)
            .where(a.tenant_id == tenant, a.execution_id == execution_id)
            .order_by(a.created_at, a.artifact_id)
        )
        return await self.database.run(lambda conn: _records(conn, stmt), write=False)

    async def add_inherited_tags(
        self, tenant: str, artifact_ids: Sequence[str], tags: Sequence[str], at: datetime
    ) -> list[str]:
        wanted = list(dict.fromkeys(tags))
        ids = list(dict.fromkeys(artifact_ids))
        if not wanted or not ids:
            return []

        def work(conn: Connection) -> list[str]:
            changed: list[str] = []
            for chunk in chunked(ids):
                # Lock the rows (PostgreSQL) so a concurrent union is not lost; SQLite
                # serialises writers already.
                stmt = select(a.artifact_id, a.inherited_tags).where(
                    a.tenant_id == tenant, a.artifact_id.in_(chunk)
                )
                if not self.database.is_sqlite:
                    stmt = stmt.with_for_update()
                # Rows that end with the same tags take one UPDATE (usually all of them: [] + [pii]).
                by_result: dict[tuple[str, ...], list[str]] = {}
                for art_id, current in conn.execute(stmt).all():
                    have = tuple(current or ())
                    merged = tuple(dict.fromkeys([*have, *wanted]))
                    if merged != have:
                        by_result.setdefault(merged, []).append(art_id)
                tag_rows = []
                for merged, same in by_result.items():
                    conn.execute(
                        update(artifacts)
                        .where(a.tenant_id == tenant, a.artifact_id.in_(same))
                        .values(inherited_tags=list(merged), updated_at=at)
                    )
                    tag_rows += [
                        {"tenant_id": tenant, "artifact_id": i, "tag": t} for i in same for t in merged
                    ]
                    changed += same
                insert_ignoring(
                    conn, artifact_tags, tag_rows, index_elements=["tenant_id", "artifact_id", "tag"]
                )
            return changed

        return await self.database.run(work, write=True)

    async def expire_due(self, now: datetime, limit: int) -> list[ArtifactRecord]:
        if limit <= 0:
            return []
        due = (
            select(a.tenant_id, a.artifact_id)
            .where(a.status == ArtifactStatus.READY.value, a.expires_at.is_not(None), a.expires_at <= now)
            .order_by(a.expires_at, a.tenant_id, a.artifact_id)
            .limit(limit)
            # PostgreSQL: concurrent sweepers take disjoint batches (SQLite ignores this).
            .with_for_update(skip_locked=True)
        )
        mark = update(artifacts).values(status=ArtifactStatus.EXPIRED.value, updated_at=now)

        def work(conn: Connection) -> list[ArtifactRecord]:
            # Two statements, not UPDATE ... IN (SELECT ... LIMIT): PostgreSQL may re-run
            # such a subquery and update more than ``limit`` rows.
            keys = [(row.tenant_id, row.artifact_id) for row in conn.execute(due)]
            expired: list[ArtifactRecord] = []
            for chunk in chunked(keys, CHUNK // 2):
                where = (
                    tuple_(a.tenant_id, a.artifact_id).in_(chunk),
                    a.status == ArtifactStatus.READY.value,
                )
                expired += _records(conn, mark.where(*where).returning(*artifacts.columns))
            return expired

        expired = await self.database.run(work, write=True)
        return sorted(expired, key=lambda r: (r.expires_at or now, r.tenant_id, r.artifact_id))

    async def fail_abandoned_executions(
        self, started_before: datetime, error: str, at: datetime, limit: int
    ) -> list[Execution]:
        if limit <= 0:
            return []
        e = executions.c
        running = ExecutionStatus.RUNNING.value
        stuck = (
            select(e.tenant_id, e.execution_id)
            .where(e.status == running, e.started_at < started_before)
            .order_by(e.started_at, e.tenant_id, e.execution_id)
            .limit(limit)
            .with_for_update(skip_locked=True)  # concurrent sweepers take disjoint batches
        )
        mark = update(executions).values(status=ExecutionStatus.FAILED.value, error=error, finished_at=at)

        def work(conn: Connection) -> list[Execution]:
            keys = [(row.tenant_id, row.execution_id) for row in conn.execute(stuck)]
            failed: list[Execution] = []
            for chunk in chunked(keys, CHUNK // 2):
                where = (tuple_(e.tenant_id, e.execution_id).in_(chunk), e.status == running)
                rows = conn.execute(mark.where(*where).returning(*executions.columns)).mappings()
                failed += map(to_execution, rows)
            return failed

        failed = await self.database.run(work, write=True)
        return sorted(failed, key=lambda x: (x.started_at, x.tenant_id, x.execution_id))

    async def referenced_digests(
        self, tenant: str, digests: Sequence[str], expired_before: datetime
    ) -> set[str]:
        if not digests:
            return set()
        released = (a.status == ArtifactStatus.EXPIRED.value) & (a.updated_at < expired_before)
        distinct_digests = select(a.sha256).distinct()

        def work(conn: Connection) -> set[str]:
            needed: set[str] = set()
            for chunk in chunked(list(dict.fromkeys(digests))):
                stmt = distinct_digests.where(a.tenant_id == tenant, a.sha256.in_(chunk), ~released)
                needed.update(conn.execute(stmt).scalars())
            return needed

        return await self.database.run(work, write=False)

    async def put_execution(self, execution: Execution) -> None:
        row = execution_row(execution)
        keys = ["tenant_id", "execution_id"]

        def work(conn: Connection) -> None:
            stmt = dialect_insert(conn, executions)
            stmt = stmt.on_conflict_do_update(
                index_elements=keys, set_={name: stmt.excluded[name] for name in row if name not in keys}
            )
            conn.execute(stmt, row)

        await self.database.run(work, write=True)

    async def get_executions(self, tenant: str, execution_ids: Sequence[str]) -> dict[str, Execution]:
        """The executions of ``tenant`` among ``execution_ids``, in one query per chunk."""
        wanted = list(dict.fromkeys(execution_ids))
        e = executions.c

        def work(conn: Connection) -> dict[str, Execution]:
            found: dict[str, Execution] = {}
            for chunk in chunked(wanted):
                stmt = select(executions).where(e.tenant_id == tenant, e.execution_id.in_(chunk))
                for execution in map(to_execution, conn.execute(stmt).mappings()):
                    found[execution.execution_id] = execution
            return found

        found = await self.database.run(work, write=False) if wanted else {}
        return {execution_id: found[execution_id] for execution_id in wanted if execution_id in found}

    async def get_execution(self, tenant: str, execution_id: str) -> Execution:
        e = executions.c
        stmt = select(executions).where(e.tenant_id == tenant, e.execution_id == execution_id)
        row = await self.database.run(lambda conn: conn.execute(stmt).mappings().first(), write=False)
        if row is None:
            raise NotFoundError("execution", execution_id)
        return to_execution(row)


def _compare_and_set(
    conn: Connection, stmt: Any, key: tuple[Any, ...], artifact_id: str
) -> tuple[ArtifactRecord | None, str]:
    """Run a conditional ``UPDATE … RETURNING``: the updated record, or None and the status that
    kept the condition from holding.

    Raises:
        NotFoundError: no such artifact.
    """
    row = conn.execute(stmt).mappings().first()
    if row is not None:
        updated = record_from_row(row)
        return updated, updated.status.value
    current = conn.execute(select(a.status).where(*key)).scalar_one_or_none()
    if current is None:
        raise NotFoundError("artifact", artifact_id)
    return None, str(current)


def _records(conn: Connection, stmt: Any) -> list[ArtifactRecord]:
    return [record_from_row(row) for row in conn.execute(stmt).mappings()]


def _select_ids(conn: Connection, tenant: str, artifact_ids: Sequence[str]) -> dict[str, ArtifactRecord]:
    found: dict[str, ArtifactRecord] = {}
    for chunk in chunked(artifact_ids):
        stmt = select(artifacts).where(a.tenant_id == tenant, a.artifact_id.in_(chunk))
        found.update((record.artifact_id, record) for record in _records(conn, stmt))
    return found
