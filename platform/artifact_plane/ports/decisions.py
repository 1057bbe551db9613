"""The decision log port: every policy decision, queryable."""

from __future__ import annotations

import abc
from collections.abc import Sequence
from datetime import datetime

from artifact_plane.models import DecisionFilter, DecisionRecord


class DecisionLog(abc.ABC):
    """Append-only log of policy decisions (in the registry database, or memory)."""

    @abc.abstractmethod
    async def append(self, records: Sequence[DecisionRecord]) -> None:
        """Append decisions, durable on return; a repeated ``decision_id`` is kept once.

        Raises:
            BackendUnavailableError: the log cannot be written.
        """

    @abc.abstractmethod
    async def query(
        self,
        tenant: str,
        query: DecisionFilter,
        *,
        limit: int,
        after: tuple[datetime, str] | None = None,
    ) -> list[DecisionRecord]:
        """Up to ``limit`` decisions of ``tenant``, oldest first by ``(created_at, decision_id)``."""

    async def close(self) -> None:
        """Release resources."""
