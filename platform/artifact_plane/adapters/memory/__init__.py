"""In-memory adapters: zero set-up, one process, the reference behaviour of every port."""

from __future__ import annotations

from artifact_plane.adapters.memory.decisions import MemoryDecisionLog
from artifact_plane.adapters.memory.lineage import MemoryLineageStore
from artifact_plane.adapters.memory.payloads import MemoryPayloadStore
from artifact_plane.adapters.memory.registry import MemoryRegistry

__all__ = ["MemoryDecisionLog", "MemoryLineageStore", "MemoryPayloadStore", "MemoryRegistry"]
