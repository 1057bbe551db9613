"""The payload store port: bytes, content-addressed by SHA-256, per tenant."""

from __future__ import annotations

import abc
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Iterable, Iterator
from datetime import datetime

import anyio.to_thread

from artifact_plane.errors import InvalidInputError
from artifact_plane.ids import validate_digest
from artifact_plane.models import StoredPayload

CHUNK_SIZE = 1024 * 1024


async def iter_chunks(data: bytes, size: int = CHUNK_SIZE) -> AsyncIterator[bytes]:
    """Yield ``data`` in chunks (so bytes and streams share one write path)."""
    for start in range(0, len(data), size):
        yield data[start : start + size]


# Argument checks every adapter applies the same way (shared so they cannot drift).


def check_put_args(chunks: object, max_size: int | None, expected_sha256: str | None) -> None:
    """Reject malformed :meth:`PayloadStore.put_stream` arguments before reading anything."""
    if isinstance(chunks, bytes | bytearray | memoryview | str):
        raise InvalidInputError("payload", "pass an iterable of bytes chunks (or call put_bytes)")
    if max_size is not None and max_size < 0:
        raise InvalidInputError("max_size", f"{max_size} must not be negative")
    if expected_sha256 is not None:
        validate_digest(expected_sha256)


def check_range(offset: int, length: int | None) -> None:
    """Reject a negative offset or length (an offset past the end needs the size)."""
    if offset < 0:
        raise InvalidInputError("offset", f"{offset} must not be negative")
    if length is not None and length < 0:
        raise InvalidInputError("length", f"{length} must not be negative")


def as_bytes(chunk: object) -> bytes:
    """One chunk as bytes; anything that is not bytes-like is InvalidInputError."""
    if isinstance(chunk, bytes):
        return chunk
    if isinstance(chunk, bytearray | memoryview):
        return bytes(chunk)
    raise InvalidInputError("payload", f"chunks must be bytes, not {type(chunk).__name__}")


async def chunk_batches(
    chunks: AsyncIterator[bytes] | Iterable[bytes], target: int, max_size: int | None
) -> AsyncGenerator[list[bytes], None]:
    """The caller's chunks grouped into lists of about ``target`` bytes (one worker-thread hop each).

    A plain iterable is pulled in a worker thread (a blocking source, such as
    an open file, must not stall the event loop). InvalidInputError is raised
    as soon as more than ``max_size`` bytes arrive, before the excess is
    handed on; an async source is closed when reading stops early.
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
            # Stopping early (max_size) closes the caller's generator now, not at GC time.
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


class PayloadStore(abc.ABC):
    """Where payload bytes live (local directory, GCS, memory).

    Keys are ``tenants/{tenant}/sha256/{aa}/{bb}/{digest}``; identical bytes are
    stored once per tenant and never shared across tenants.
    """

    @abc.abstractmethod
    async def put_stream(
        self,
        tenant: str,
        chunks: AsyncIterator[bytes] | Iterable[bytes],
        *,
        max_size: int | None = None,
        expected_sha256: str | None = None,
    ) -> StoredPayload:
        """Store a stream, computing its digest while writing; durable on return.

        Writing a digest that is already stored keeps the stored copy and
        refreshes its modification time (which protects it from garbage
        collection for a grace period).

        Raises:
            InvalidInputError: more than ``max_size`` bytes, or the digest is
                not ``expected_sha256``. Nothing is left behind.
            BackendUnavailableError: the store cannot be reached.
        """

    @abc.abstractmethod
    def open(
        self, tenant: str, sha256: str, *, offset: int = 0, length: int | None = None
    ) -> AsyncIterator[bytes]:
        """Stream a payload (or a byte range of it) in chunks.

        Raises:
            NotFoundError: no such payload for this tenant (raised on first iteration).
        """

    @abc.abstractmethod
    async def stat(self, tenant: str, sha256: str) -> StoredPayload | None:
        """What is stored under the digest, or None."""

    @abc.abstractmethod
    async def delete(self, tenant: str, sha256: str) -> bool:
        """Remove a payload; True when something was removed (idempotent)."""

    @abc.abstractmethod
    async def delete_if_stale(self, tenant: str, sha256: str, older_than: datetime) -> bool:
        """Remove a payload only if it was last written before ``older_than``.

        This is garbage collection's delete. Storing a digest that is already
        present refreshes its modification time, and this check-and-delete is
        atomic against such a refresh, so a payload a writer has just
        (re-)stored is never collected under it.
        """

    @abc.abstractmethod
    def scan(self) -> AsyncIterator[StoredPayload]:
        """Every stored payload of every tenant (for garbage collection)."""

    async def clean_temp(self, older_than: datetime) -> int:
        """Remove partial writes left by a crashed writer; return how many (stores with none: 0)."""
        return 0

    async def ping(self) -> None:
        """Check the store answers (Raises: BackendUnavailableError)."""

    async def close(self) -> None:
        """Release clients."""

    async def put_bytes(self, tenant: str, data: bytes, *, max_size: int | None = None) -> StoredPayload:
        """Store ``data`` (built on :meth:`put_stream`)."""
        return await self.put_stream(tenant, iter_chunks(data), max_size=max_size)

    async def get_bytes(self, tenant: str, sha256: str) -> bytes:
        """The whole payload in memory (built on :meth:`open`)."""
        parts = [chunk async for chunk in self.open(tenant, sha256)]
        return b"".join(parts)
