"""In-memory decision log."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime

from artifact_plane.models import DecisionFilter, DecisionRecord
from artifact_plane.ports.decisions import DecisionLog

__all__ = ["MemoryDecisionLog"]


def _matches(record: DecisionRecord, query: DecisionFilter) -> bool:
    return (
        (query.subject_id is None or record.subject_id == query.subject_id)
        and (query.action is None or record.action == query.action)
        and (query.allow is None or record.allow is query.allow)
        and (query.resource_ref is None or record.resource_ref == query.resource_ref)
        and (query.since is None or record.created_at >= query.since)
        and (query.until is None or record.created_at < query.until)
    )


class MemoryDecisionLog(DecisionLog):
    """Decisions in a per-tenant dict keyed by decision ID."""

    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self._records: dict[str, dict[str, DecisionRecord]] = {}

    async def append(self, records: Sequence[DecisionRecord]) -> None:
        """Append decisions; re-appending a decision ID keeps the first (a retried write)."""
        async with self._lock:
            self.append_now(records)

    def append_now(self, records: Sequence[DecisionRecord]) -> None:
        """:meth:`append` without awaiting (for the memory registry, inside its own atomic insert)."""
        for record in records:
            self._records.setdefault(record.tenant_id, {}).setdefault(record.decision_id, record)

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
            (r for r in self._records.get(tenant, {}).values() if _matches(r, query)),
            key=lambda r: (r.created_at, r.decision_id),
        )
        if after is not None:
            found = [r for r in found if (r.created_at, r.decision_id) > after]
        return found[: max(limit, 0)]
