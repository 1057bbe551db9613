"""``SqlDecisionLog``: the policy decision log in the registry database, hash-chained per tenant."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import ColumnElement, Connection, RowMapping, bindparam, func, select, text, update

from artifact_plane.adapters.sql.engine import SqlDatabase
from artifact_plane.adapters.sql.rows import decision_row, insert_ignoring, keyset_after, to_decision
from artifact_plane.adapters.sql.tables import decisions
from artifact_plane.errors import InvalidInputError
from artifact_plane.models import DecisionFilter, DecisionRecord
from artifact_plane.ports.decisions import (
    GENESIS,
    ChainedDecisionLog,
    ChainHead,
    ChainReport,
    ChainWalk,
    Progress,
    SealedEntry,
    chain_hash,
)

__all__ = ["SqlDecisionLog"]

d = decisions.c
VERIFY_PAGE = 2000


def chain_lock_key(tenant: str) -> int:
    """The PostgreSQL advisory lock key of ``tenant``'s chain (a signed 64-bit integer)."""
    digest = hashlib.sha256(b"artifact-plane decision chain\0" + tenant.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class SqlDecisionLog(ChainedDecisionLog):
    """Append-only decision log on SQLite or PostgreSQL.

    Appending a decision ID the tenant already logged keeps the first, so a
    retried append never duplicates entries. Appends (and the registry's
    inserts of a create's decisions) write unsealed rows; :meth:`seal` links
    them under a per-tenant lock — PostgreSQL's transaction-scoped advisory
    lock, SQLite's write transaction — so writers never wait for the chain.

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
        # The first of a repeated ID wins, as in one INSERT; then split by whether there is an input.
        seen: set[tuple[str, str]] = set()
        rows = []
        for record in records:
            if (record.tenant_id, record.decision_id) not in seen:
                seen.add((record.tenant_id, record.decision_id))
                rows.append(decision_row(record))
        # The JSON column would store None as JSON 'null': leave the column out of
        # those rows so an entry without input is SQL NULL, like those older than 0005.
        with_input = [row for row in rows if row["input"] is not None]
        without = [{k: v for k, v in row.items() if k != "input"} for row in rows if row["input"] is None]

        def work(conn: Connection) -> None:
            for batch in (with_input, without):
                insert_ignoring(conn, decisions, batch, index_elements=["tenant_id", "decision_id"])

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

    # ------------------------------------------------------------------ chain

    async def tenants(self, *, unsealed_only: bool = False) -> list[str]:
        stmt = select(d.tenant_id).distinct().order_by(d.tenant_id)
        if unsealed_only:
            stmt = stmt.where(d.seq.is_(None))

        def work(conn: Connection) -> list[str]:
            return list(conn.execute(stmt).scalars())

        return await self.database.run(work, write=False)

    async def seal(self, tenant: str, *, limit: int = 1000) -> int:
        if limit < 1:
            raise InvalidInputError("limit", f"{limit} must be at least 1")
        return await self.database.run(lambda conn: self._seal(conn, tenant, limit), write=True)

    def _seal(self, conn: Connection, tenant: str, limit: int) -> int:
        if conn.dialect.name == "postgresql":
            # Sealers of one tenant take turns; appends take no part in this lock.
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": chain_lock_key(tenant)})
        head = _head(conn, tenant)
        seq, prev = (head.seq, head.hash) if head else (0, GENESIS)
        rows = conn.execute(
            select(decisions)
            .where(d.tenant_id == tenant, d.seq.is_(None))
            .order_by(d.created_at, d.decision_id)
            .limit(limit)
        ).mappings()
        links: list[dict[str, Any]] = []
        for row in rows:
            seq += 1
            entry_hash = chain_hash(prev, seq, to_decision(row))
            links.append({"k_id": row["decision_id"], "k_seq": seq, "k_prev": prev, "k_hash": entry_hash})
            prev = entry_hash
        if links:
            conn.execute(
                update(decisions)
                .where(d.tenant_id == tenant, d.decision_id == bindparam("k_id"), d.seq.is_(None))
                .values(
                    seq=bindparam("k_seq"), prev_hash=bindparam("k_prev"), entry_hash=bindparam("k_hash")
                ),
                links,
            )
        return len(links)

    async def unsealed_count(self, tenant: str) -> int:
        stmt = select(func.count()).select_from(decisions).where(d.tenant_id == tenant, d.seq.is_(None))
        return await self.database.run(lambda conn: int(conn.execute(stmt).scalar_one()), write=False)

    async def head(self, tenant: str) -> ChainHead | None:
        return await self.database.run(lambda conn: _head(conn, tenant), write=False)

    async def verify(
        self,
        tenant: str,
        *,
        expect_head: ChainHead | None = None,
        progress: Progress | None = None,
    ) -> ChainReport:
        walk = ChainWalk(tenant, expect_head)
        after = 0
        while not walk.done:
            page = await self.database.run(partial(_sealed_page, tenant=tenant, after=after), write=False)
            for entry in page:
                if not walk.feed(entry):
                    break
            if progress is not None:
                progress(walk.checked)
            if len(page) < VERIFY_PAGE:
                break
            after = page[-1].seq
        return walk.report(await self.unsealed_count(tenant))

    async def ping(self) -> None:
        """Check the database answers (Raises: BackendUnavailableError)."""
        await self.database.ping()

    async def close(self) -> None:
        await self.database.dispose()


def _head(conn: Connection, tenant: str) -> ChainHead | None:
    row = conn.execute(
        select(d.seq, d.entry_hash)
        .where(d.tenant_id == tenant, d.seq.is_not(None))
        .order_by(d.seq.desc())
        .limit(1)
    ).first()
    return ChainHead(int(row.seq), str(row.entry_hash)) if row is not None else None


def _sealed_page(conn: Connection, *, tenant: str, after: int) -> list[SealedEntry]:
    rows = conn.execute(
        select(decisions).where(d.tenant_id == tenant, d.seq > after).order_by(d.seq).limit(VERIFY_PAGE)
    ).mappings()
    return [_sealed(row) for row in rows]


def _sealed(row: RowMapping) -> SealedEntry:
    try:
        record: DecisionRecord | None = to_decision(row)
    except (ValueError, TypeError, KeyError):  # edited into something that is no decision: a break
        record = None
    return SealedEntry(
        int(row["seq"]), row["prev_hash"] or "", row["entry_hash"] or "", record, str(row["decision_id"])
    )
