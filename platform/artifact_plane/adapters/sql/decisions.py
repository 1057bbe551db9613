"""``SqlDecisionLog``: the policy decision log in the registry database."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, Connection, select

from artifact_plane.adapters.sql.engine import SqlDatabase
from artifact_plane.adapters.sql.rows import decision_row, insert_ignoring, keyset_after, to_decision
from artifact_plane.adapters.sql.tables import decisions
from artifact_plane.models import DecisionFilter, DecisionRecord
from artifact_plane.ports.decisions import DecisionLog

__all__ = ["SqlDecisionLog"]

d = decisions.c


class SqlDecisionLog(DecisionLog):
    """Append-only decision log on SQLite or PostgreSQL.

    Appending a decision ID the tenant already logged keeps the first, so a
    retried append never duplicates entries.

    Args:
        database: the engine shared with ``SqlRegistry``.
    """

    def __init__(self, database: SqlDatabase) -> None:
        self.database = database

    def __repr__(self) -> str:
        return f"SqlDecisionLog({self.database!r})"

    async def initialize(self) -> None:
        """Create or migrate the schema (the registry's; safe to call again)."""
        await self.database.initialize()

    async def append(self, records: Sequence[DecisionRecord]) -> None:
        if not records:
            return
        rows = [decision_row(record) for record in records]

        def work(conn: Connection) -> None:
            insert_ignoring(conn, decisions, rows, index_elements=["tenant_id", "decision_id"])

        await self.database.run(work, write=True)

    async def query(
        self,
        tenant: str,
        query: DecisionFilter,
        *,
        limit: int,
        after: tuple[datetime, str] | None = None,
    ) -> list[DecisionRecord]:
        if limit <= 0:
            return []
        where: list[ColumnElement[bool]] = [d.tenant_id == tenant]
        if query.subject_id is not None:
            where.append(d.subject_id == query.subject_id)
        if query.action is not None:
            where.append(d.action == query.action)
        if query.allow is not None:
            where.append(d.allow == query.allow)
        if query.resource_ref is not None:
            where.append(d.resource_ref == query.resource_ref)
        if query.since is not None:
            where.append(d.created_at >= query.since)
        if query.until is not None:
            where.append(d.created_at < query.until)
        page_start = keyset_after(d.created_at, d.decision_id, after)
        if page_start is not None:
            where.append(page_start)
        stmt = select(decisions).where(*where).order_by(d.created_at, d.decision_id).limit(limit)

        def work(conn: Connection) -> list[DecisionRecord]:
            return [to_decision(row) for row in conn.execute(stmt).mappings()]

        return await self.database.run(work, write=False)

    async def ping(self) -> None:
        """Check the database answers (Raises: BackendUnavailableError)."""
        await self.database.ping()

    async def close(self) -> None:
        await self.database.dispose()
