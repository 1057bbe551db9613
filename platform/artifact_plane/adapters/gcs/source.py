"""The caller's chunks, in batches of about one port chunk per worker-thread hop.

Kept beside the GCS store rather than shared with the local one: each
adapter owns its helpers (adapters import nothing from one another).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Iterable, Iterator

import anyio.to_thread

from artifact_plane.errors import InvalidInputError
from artifact_plane.ports.payloads import as_bytes


async def batches(
    chunks: AsyncIterator[bytes] | Iterable[bytes], target: int, max_size: int | None
) -> AsyncGenerator[list[bytes], None]:
    """Group the caller's chunks into lists of about ``target`` bytes.

    A plain iterable is pulled in a worker thread (a blocking source must not
    stall the event loop). InvalidInputError is raised as soon as more than
    ``max_size`` bytes arrive, before the excess is handed on; an async
    source is closed when reading stops early.
    """
    size = 0
    if isinstance(chunks, AsyncIterable):
        batch: list[bytes] = []
        filled = 0
        try:
            async for item in chunks:
                chunk = as_bytes(item)
                size = _count(size, len(chunk), max_size)
                batch.append(chunk)
                filled += len(chunk)
                if filled >= target:
                    yield batch
                    batch, filled = [], 0
        finally:
            aclose = getattr(chunks, "aclose", None)
            if aclose is not None:
                await aclose()
        if batch:
            yield batch
        return
    iterator = iter(chunks)
    while True:
        limit = None if max_size is None else max_size - size
        pulled, done = await anyio.to_thread.run_sync(_pull, iterator, target, limit)
        size = _count(size, sum(len(chunk) for chunk in pulled), max_size)
        if pulled:
            yield pulled
        if done:
            return


async def close_source(chunks: AsyncIterator[bytes] | Iterable[bytes]) -> None:
    """Close a source the store decided not to read (a generator's ``finally`` runs now)."""
    aclose = getattr(chunks, "aclose", None)
    if aclose is not None:
        await aclose()
        return
    close = getattr(chunks, "close", None)
    if close is not None:
        close()


def _pull(iterator: Iterator[bytes], target: int, limit: int | None) -> tuple[list[bytes], bool]:
    """Pull about ``target`` bytes (stopping past ``limit``); True when the source is exhausted."""
    batch: list[bytes] = []
    filled = 0
    for item in iterator:
        chunk = as_bytes(item)
        batch.append(chunk)
        filled += len(chunk)
        if filled >= target or (limit is not None and filled > limit):
            return batch, False
    return batch, True


def _count(size: int, more: int, max_size: int | None) -> int:
    size += more
    if max_size is not None and size > max_size:
        raise InvalidInputError("payload", f"larger than max_size={max_size} bytes")
    return size
