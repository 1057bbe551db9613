"""Closing a caller's source the store decided not to read.

Batching the caller's chunks is shared by every store: ``ports.payloads.chunk_batches``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable


async def close_source(chunks: AsyncIterator[bytes] | Iterable[bytes]) -> None:
    """Close a source the store decided not to read (a generator's ``finally`` runs now)."""
    aclose = getattr(chunks, "aclose", None)
    if aclose is not None:
        await aclose()
        return
    close = getattr(chunks, "close", None)
    if close is not None:
        close()
