"""In-memory decision log, hash-chained like the SQL one (the reference behaviour)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

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

__all__ = ["MemoryDecisionLog", "Seal"]


def _matches(record: DecisionRecord, query: DecisionFilter) -> bool:
    return (
        (query.subject_id is None or record.subject_id == query.subject_id)
        and (query.action is None or record.action == query.action)
        and (query.allow is None or record.allow is query.allow)
        and (query.resource_ref is None or record.resource_ref == query.resource_ref)
        and (query.since is None or record.created_at >= query.since)
        and (query.until is None or record.created_at < query.until)
    )


@dataclass
class Seal:
    """An entry's place in its tenant's chain (the SQL adapter's seq/prev_hash/entry_hash columns)."""

    seq: int
    prev_hash: str
    entry_hash: str


class MemoryDecisionLog(ChainedDecisionLog):
    """Decisions in a per-tenant dict keyed by decision ID; seals beside them.

    ``records`` and ``seals`` are public so tests can tamper with them the way
    someone with database access would edit rows.
    """

    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self.records: dict[str, dict[str, DecisionRecord]] = {}
        self.seals: dict[str, dict[str, Seal]] = {}

    async def append(self, records: Sequence[DecisionRecord]) -> None:
        """Append decisions; re-appending a decision ID keeps the first (a retried write)."""
        async with self._lock:
            self.append_now(records)

    def append_now(self, records: Sequence[DecisionRecord]) -> None:
        """:meth:`append` without awaiting (for the memory registry, inside its own atomic insert)."""
        for record in records:
            self.records.setdefault(record.tenant_id, {}).setdefault(record.decision_id, record)

    async def query(
        self,
        tenant: str,
        query: DecisionFilter,
        *,
        limit: int,
        after: tuple[datetime, str] | None = None,
    ) -> list[DecisionRecord]:
        """Matching decisions of ``tenant`` by ``(created_at, decision_id)``, strictly after ``after``."""
        found = sorted(
            (r for r in self.records.get(tenant, {}).values() if _matches(r, query)),
            key=lambda r: (r.created_at, r.decision_id),
        )
        if after is not None:
            found = [r for r in found if (r.created_at, r.decision_id) > after]
        return found[: max(limit, 0)]

    # ------------------------------------------------------------------ chain

    def _unsealed(self, tenant: str) -> list[DecisionRecord]:
        seals = self.seals.get(tenant, {})
        return sorted(
            (r for r in self.records.get(tenant, {}).values() if r.decision_id not in seals),
            key=lambda r: (r.created_at, r.decision_id),
        )

    def _sealed(self, tenant: str) -> list[SealedEntry]:
        records = self.records.get(tenant, {})
        entries = [
            SealedEntry(seal.seq, seal.prev_hash, seal.entry_hash, records[decision_id])
            for decision_id, seal in self.seals.get(tenant, {}).items()
            if decision_id in records
        ]
        return sorted(entries, key=lambda e: e.seq)

    async def tenants(self, *, unsealed_only: bool = False) -> list[str]:
        return sorted(
            t for t, found in self.records.items() if found and (not unsealed_only or self._unsealed(t))
        )

    async def seal(self, tenant: str, *, limit: int = 1000) -> int:
        if limit < 1:
            raise InvalidInputError("limit", f"{limit} must be at least 1")
        async with self._lock:
            head = self._head(tenant)
            seq, prev = (head.seq, head.hash) if head else (0, GENESIS)
            batch = self._unsealed(tenant)[:limit]
            seals = self.seals.setdefault(tenant, {})
            for record in batch:
                seq += 1
                entry_hash = chain_hash(prev, seq, record)
                seals[record.decision_id] = Seal(seq, prev, entry_hash)
                prev = entry_hash
            return len(batch)

    async def unsealed_count(self, tenant: str) -> int:
        return len(self._unsealed(tenant))

    def _head(self, tenant: str) -> ChainHead | None:
        # Like the SQL adapter: the highest seq of an entry still present.
        sealed = self._sealed(tenant)
        return ChainHead(sealed[-1].seq, sealed[-1].entry_hash) if sealed else None

    async def head(self, tenant: str) -> ChainHead | None:
        return self._head(tenant)

    async def verify(
        self,
        tenant: str,
        *,
        expect_head: ChainHead | None = None,
        progress: Progress | None = None,
    ) -> ChainReport:
        walk = ChainWalk(tenant, expect_head)
        for entry in self._sealed(tenant):
            if not walk.feed(entry):
                break
        if progress is not None:
            progress(walk.checked)
        return walk.report(len(self._unsealed(tenant)))
