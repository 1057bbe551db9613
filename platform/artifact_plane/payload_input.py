"""Turn what a caller hands the plane (bytes, text, JSON, streams) into chunks."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import AsyncIterable, AsyncIterator, Iterable
from dataclasses import dataclass
from typing import IO, Any

import anyio.to_thread

from artifact_plane.errors import InvalidInputError
from artifact_plane.ports.payloads import CHUNK_SIZE, iter_chunks

PayloadSource = (
    bytes | bytearray | memoryview | str | dict[str, Any] | list[Any] | IO[bytes] | AsyncIterable[bytes]
)


@dataclass
class PreparedPayload:
    """Chunks to store plus what is known before storing them."""

    chunks: AsyncIterator[bytes]
    content_type: str
    encoding: str | None
    # Known up front for in-memory data and regular files (what is left to read); None for streams.
    size: int | None


def prepare(data: object, content_type: str | None, encoding: str | None) -> PreparedPayload:
    """Classify ``data``; JSON is serialised canonically so equal documents share a digest.

    Raises:
        InvalidInputError: ``data`` is none of the accepted kinds, or JSON
            that cannot be serialised.
    """
    if isinstance(data, bytes | bytearray | memoryview):
        raw = bytes(data)
        return PreparedPayload(
            iter_chunks(raw), content_type or "application/octet-stream", encoding, len(raw)
        )
    if isinstance(data, str):
        codec = encoding or "utf-8"
        try:
            raw = data.encode(codec)
        except (LookupError, UnicodeEncodeError) as exc:
            raise InvalidInputError("encoding", f"cannot encode text as {codec!r}: {exc}") from exc
        return PreparedPayload(iter_chunks(raw), content_type or "text/plain; charset=utf-8", codec, len(raw))
    if isinstance(data, dict | list):
        try:
            raw = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        except (TypeError, ValueError) as exc:
            raise InvalidInputError("data", f"not JSON-serialisable: {exc}") from exc
        return PreparedPayload(iter_chunks(raw), content_type or "application/json", "utf-8", len(raw))
    if hasattr(data, "read"):
        return PreparedPayload(
            _read_file(data), content_type or "application/octet-stream", encoding, _file_size(data)
        )
    if isinstance(data, AsyncIterable):
        return PreparedPayload(
            _check_chunks(data), content_type or "application/octet-stream", encoding, None
        )
    raise InvalidInputError(
        "data",
        "expected bytes, str, a JSON dict/list, a binary file or an async byte stream, "
        f"got {type(data).__name__}",
    )


def _file_size(handle: Any) -> int | None:
    """The bytes left to read in a regular file, else None (a pipe, a socket, a wrapper)."""
    try:
        status = os.fstat(handle.fileno())
        if not stat.S_ISREG(status.st_mode):
            return None
        return max(status.st_size - int(handle.tell()), 0)
    except (AttributeError, OSError, TypeError, ValueError):  # io.UnsupportedOperation is an OSError
        return None


async def _read_file(handle: Any) -> AsyncIterator[bytes]:
    # File objects block: read each chunk on a worker thread.
    while True:
        chunk = await anyio.to_thread.run_sync(handle.read, CHUNK_SIZE)
        if not chunk:
            return
        if not isinstance(chunk, bytes | bytearray):
            raise InvalidInputError("data", "file must be opened in binary mode ('rb')")
        yield bytes(chunk)


async def _check_chunks(stream: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
    async for chunk in stream:
        if not isinstance(chunk, bytes | bytearray | memoryview):
            raise InvalidInputError("data", f"stream yielded {type(chunk).__name__}, expected bytes")
        yield bytes(chunk)


def sync_chunks(data: Iterable[bytes]) -> AsyncIterator[bytes]:
    """Adapt a plain iterable of byte chunks."""

    async def gen() -> AsyncIterator[bytes]:
        for chunk in data:
            yield chunk

    return gen()


def accepts(content_type: str, accept: Iterable[str]) -> bool:
    """Does ``content_type`` match any of ``accept`` (``type/subtype``, ``type/*``, ``*/*``)?"""
    media = content_type.split(";", 1)[0].strip().lower()
    major = media.split("/", 1)[0]
    for pattern in accept:
        wanted = pattern.split(";", 1)[0].strip().lower()
        if wanted in {"*/*", "*", media} or wanted == f"{major}/*":
            return True
    return False
