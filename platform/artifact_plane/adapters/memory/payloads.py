"""MemoryPayloadStore: payloads in a dict; the reference behaviour of the port."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Iterable
from contextlib import aclosing
from datetime import datetime

from artifact_plane.errors import ConfigurationError, InvalidInputError, NotFoundError
from artifact_plane.ids import payload_key, validate_digest, validate_id
from artifact_plane.models import StoredPayload, utcnow
from artifact_plane.ports.payloads import CHUNK_SIZE, PayloadStore, as_bytes, check_put_args, check_range

__all__ = ["MemoryPayloadStore"]


class MemoryPayloadStore(PayloadStore):
    """Payloads held in process memory, keyed by ``(tenant, digest)``.

    Args:
        chunk_size: the largest chunk :meth:`open` yields.
    """

    def __init__(self, chunk_size: int = CHUNK_SIZE) -> None:
        if chunk_size <= 0:
            raise ConfigurationError("chunk_size", f"{chunk_size} must be positive")
        self._chunk_size = chunk_size
        self._blobs: dict[tuple[str, str], tuple[bytes, StoredPayload]] = {}

    async def put_stream(
        self,
        tenant: str,
        chunks: AsyncIterator[bytes] | Iterable[bytes],
        *,
        max_size: int | None = None,
        expected_sha256: str | None = None,
    ) -> StoredPayload:
        """Store a stream; see :meth:`PayloadStore.put_stream`."""
        validate_id(tenant, "tenant")
        check_put_args(chunks, max_size, expected_sha256)
        hasher = hashlib.sha256()
        parts: list[bytes] = []
        size = 0
        async with aclosing(_each(chunks)) as source:
            async for chunk in source:
                size += len(chunk)
                if max_size is not None and size > max_size:
                    raise InvalidInputError("payload", f"larger than max_size={max_size} bytes")
                hasher.update(chunk)
                parts.append(chunk)
        digest = hasher.hexdigest()
        if expected_sha256 is not None and digest != expected_sha256:
            raise InvalidInputError("payload", f"sha256 is {digest}, expected {expected_sha256}")
        stored = self._blobs.get((tenant, digest))
        if stored is not None:
            # Refresh, so garbage collection's grace protects a re-stored digest.
            refreshed = stored[1].model_copy(update={"modified_at": utcnow()})
            self._blobs[(tenant, digest)] = (stored[0], refreshed)
            return refreshed
        meta = StoredPayload(
            tenant_id=tenant,
            sha256=digest,
            size_bytes=size,
            key=payload_key(tenant, digest),
            modified_at=utcnow(),
        )
        self._blobs[(tenant, digest)] = (b"".join(parts), meta)
        return meta

    def open(
        self, tenant: str, sha256: str, *, offset: int = 0, length: int | None = None
    ) -> AsyncIterator[bytes]:
        """Stream a payload or a byte range of it.

        Malformed arguments (tenant, digest, negative offset or length) raise
        InvalidInputError at once; NotFoundError and an offset beyond the end
        (InvalidInputError) are raised on first iteration.
        """
        validate_id(tenant, "tenant")
        validate_digest(sha256)
        check_range(offset, length)
        return self._read(tenant, sha256, offset, length)

    async def _read(self, tenant: str, sha256: str, offset: int, length: int | None) -> AsyncIterator[bytes]:
        stored = self._blobs.get((tenant, sha256))
        if stored is None:
            raise NotFoundError("payload", sha256)
        data = stored[0]
        if offset > len(data):
            raise InvalidInputError("offset", f"{offset} is beyond the payload's {len(data)} bytes")
        end = len(data) if length is None else min(len(data), offset + length)
        for start in range(offset, end, self._chunk_size):
            yield data[start : min(end, start + self._chunk_size)]

    async def stat(self, tenant: str, sha256: str) -> StoredPayload | None:
        """What is stored under the digest, or None."""
        validate_id(tenant, "tenant")
        validate_digest(sha256)
        stored = self._blobs.get((tenant, sha256))
        return None if stored is None else stored[1]

    async def delete(self, tenant: str, sha256: str) -> bool:
        """Remove a payload; True when something was removed."""
        validate_id(tenant, "tenant")
        validate_digest(sha256)
        return self._blobs.pop((tenant, sha256), None) is not None

    async def delete_if_stale(self, tenant: str, sha256: str, older_than: datetime) -> bool:
        """Remove a payload last written before ``older_than`` (atomic: no awaits in between)."""
        validate_id(tenant, "tenant")
        validate_digest(sha256)
        stored = self._blobs.get((tenant, sha256))
        if stored is None or stored[1].modified_at >= older_than:
            return False
        del self._blobs[(tenant, sha256)]
        return True

    async def scan(self) -> AsyncIterator[StoredPayload]:
        """Every stored payload, ordered by tenant then digest."""
        # A snapshot, so callers may delete while they scan (as GC does).
        for key in sorted(self._blobs):
            stored = self._blobs.get(key)
            if stored is not None:
                yield stored[1]


async def _each(chunks: AsyncIterator[bytes] | Iterable[bytes]) -> AsyncGenerator[bytes, None]:
    if not isinstance(chunks, AsyncIterable):
        for chunk in chunks:
            yield as_bytes(chunk)
        return
    try:
        async for chunk in chunks:
            yield as_bytes(chunk)
    finally:
        # Stopping early (max_size) closes the caller's generator now, not at GC time.
        aclose = getattr(chunks, "aclose", None)
        if aclose is not None:
            await aclose()
