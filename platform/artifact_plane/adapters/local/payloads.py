"""LocalPayloadStore: payloads as files in a local directory.

Layout under ``root``::

    tenants/{tenant}/sha256/{aa}/{bb}/{digest}   one file per stored payload
    tmp/{random}.tmp                             payloads being written

A payload is streamed into ``tmp/`` (same filesystem), fsynced, renamed into
place with ``os.replace`` and its directory fsynced, so a reader sees either
the whole payload or nothing. A writer that dies mid-stream leaves only a
temp file, which :meth:`LocalPayloadStore.clean_temp` removes.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, TypeVar

import anyio
import anyio.to_thread

from artifact_plane.errors import (
    ArtifactPlaneError,
    BackendUnavailableError,
    ConfigurationError,
    InvalidInputError,
    NotFoundError,
)
from artifact_plane.ids import DIGEST_PATTERN, ID_PATTERN, payload_key, validate_id
from artifact_plane.models import StoredPayload
from artifact_plane.ports.payloads import CHUNK_SIZE, PayloadStore, check_put_args, check_range, chunk_batches

__all__ = ["LocalPayloadStore"]

T = TypeVar("T")
FILE_MODE = 0o600
DIR_MODE = 0o700
TEMP_SUFFIX = ".tmp"


class LocalPayloadStore(PayloadStore):
    """Payloads as files under ``root``; the embedded default.

    Args:
        root: the store's directory, created on first write.
        chunk_size: the largest chunk :meth:`open` yields, and about how many
            bytes each worker-thread hop writes.
    """

    def __init__(self, root: Path | str, chunk_size: int = CHUNK_SIZE) -> None:
        if chunk_size <= 0:
            raise ConfigurationError("chunk_size", f"{chunk_size} must be positive")
        self._root = Path(root).absolute()
        self._tmp = self._root / "tmp"
        self._chunk_size = chunk_size

    @property
    def root(self) -> Path:
        """The store's directory (absolute)."""
        return self._root

    async def ping(self) -> None:
        """Check the directory exists (creating it) and is a directory."""
        await self._io("reach", self._ensure_tmp)

    async def put_stream(
        self,
        tenant: str,
        chunks: AsyncIterator[bytes] | Iterable[bytes],
        *,
        max_size: int | None = None,
        expected_sha256: str | None = None,
    ) -> StoredPayload:
        """Store a stream; see :meth:`PayloadStore.put_stream`.

        A plain iterable is pulled in a worker thread, so a blocking source
        (an open file) does not stall the event loop. An exception from the
        source propagates unchanged; nothing is left behind.
        """
        validate_id(tenant, "tenant")
        check_put_args(chunks, max_size, expected_sha256)
        temp = _TempFile(self._tmp / f"{uuid.uuid4().hex}{TEMP_SUFFIX}")

        def write(batch: list[bytes], last: bool) -> os.stat_result | None:
            # One worker-thread hop per batch, and the first and last batches
            # carry the create and the commit: a payload that fits in one batch
            # (most of them) is stored in a single hop.
            if not temp.created:
                self._create_temp(temp)
            temp.write(batch)
            return self._finish(tenant, temp, expected_sha256) if last else None

        info: os.stat_result | None = None
        try:
            source = chunk_batches(chunks, self._chunk_size, max_size)
            async with contextlib.aclosing(_with_last(source)) as batches:
                async for batch, last in batches:
                    info = await self._io("write", functools.partial(write, batch, last))
            if info is None:  # an empty stream
                info = await self._io("write", functools.partial(write, [], True))
            assert info is not None  # the last write commits
        except BaseException:
            # Shielded: a cancelled writer must still remove its temp file.
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(temp.discard)
            raise
        return _stored(tenant, temp.hexdigest(), info)

    def open(
        self, tenant: str, sha256: str, *, offset: int = 0, length: int | None = None
    ) -> AsyncIterator[bytes]:
        """Stream a payload or a byte range of it; see :meth:`PayloadStore.open`.

        Malformed arguments (tenant, digest, negative offset or length) raise
        InvalidInputError at once; NotFoundError and an offset beyond the end
        (InvalidInputError) are raised on first iteration.
        """
        path = self._root / payload_key(tenant, sha256)
        check_range(offset, length)
        return self._read(path, sha256, offset, length)

    async def _read(self, path: Path, sha256: str, offset: int, length: int | None) -> AsyncIterator[bytes]:
        handle, size = await self._io("read", lambda: _open_at(path, sha256, offset))
        try:
            remaining = size - offset if length is None else min(length, size - offset)
            while remaining > 0:
                want = min(self._chunk_size, remaining)
                chunk = await self._io("read", functools.partial(handle.read, want))
                if not chunk:
                    # The file is shorter than it was at open: stop rather than hang.
                    return
                remaining -= len(chunk)
                yield chunk
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(handle.close)

    async def stat(self, tenant: str, sha256: str) -> StoredPayload | None:
        """What is stored under the digest, or None."""
        path = self._root / payload_key(tenant, sha256)
        info = await self._io("stat", lambda: _stat_or_none(path))
        return None if info is None else _stored(tenant, sha256, info)

    async def delete(self, tenant: str, sha256: str) -> bool:
        """Remove a payload; True when something was removed.

        Empty shard directories are kept: removing them would race a
        concurrent writer that has just created them.
        """
        path = self._root / payload_key(tenant, sha256)
        return await self._io("delete", lambda: _unlink(path))

    async def delete_if_stale(self, tenant: str, sha256: str, older_than: datetime) -> bool:
        """Remove a payload last written before ``older_than``; see the port."""
        if older_than.tzinfo is None:
            raise InvalidInputError("older_than", "must be timezone-aware")
        path = self._root / payload_key(tenant, sha256)
        trash = self._tmp / f"{uuid.uuid4().hex}{TEMP_SUFFIX}"
        return await self._io("delete", lambda: self._delete_if_stale(path, trash, older_than.timestamp()))

    def _delete_if_stale(self, path: Path, trash: Path, cutoff: float) -> bool:
        # Rename first, then look at the mtime of what we took: a writer that
        # refreshed the file before the rename shows up here and gets it back;
        # one that comes after the rename finds no file and stores its own copy.
        info = _stat_or_none(path)
        if info is None or info.st_mtime >= cutoff:
            return False
        self._ensure_tmp()
        try:
            os.rename(path, trash)
        except FileNotFoundError:
            return False
        if trash.stat().st_mtime >= cutoff:
            with contextlib.suppress(FileExistsError):  # a writer already stored it again
                os.link(trash, path)
            os.unlink(trash)
            return False
        os.unlink(trash)
        return True

    async def scan(self) -> AsyncIterator[StoredPayload]:
        """Every stored payload, ordered by tenant then digest; ``tmp/`` is skipped.

        Lists one ``{aa}`` shard per worker-thread hop, so a large store is
        never held in memory at once; files that do not fit the layout are ignored.
        """
        tenants_dir = self._root / "tenants"
        for tenant in await self._io("scan", lambda: _list_dir(tenants_dir)):
            if not ID_PATTERN.fullmatch(tenant):
                continue
            digests_dir = tenants_dir / tenant / "sha256"
            for shard in await self._io("scan", functools.partial(_list_dir, digests_dir)):
                entries = await self._io("scan", functools.partial(_scan_shard, digests_dir / shard))
                for digest, info in entries:
                    yield _stored(tenant, digest, info)

    async def clean_temp(self, older_than: datetime) -> int:
        """Remove temp files last written before ``older_than``; how many were removed.

        Temp files are what a writer that crashed mid-stream leaves behind.
        A live writer touches its file with every batch it writes, so a
        cut-off well in the past (the GC grace period) spares writers at work;
        one whose source stalls longer than that loses its temp file and fails
        with BackendUnavailableError, never with a partial payload.

        Raises:
            InvalidInputError: ``older_than`` is naive (no time zone).
        """
        if older_than.tzinfo is None or older_than.utcoffset() is None:
            raise InvalidInputError("older_than", "must be timezone-aware")
        cutoff = older_than.timestamp()
        return await self._io("clean", lambda: _remove_older(self._tmp, cutoff))

    @contextlib.contextmanager
    def _translate(self, action: str) -> Iterator[None]:
        """The one place OSError becomes BackendUnavailableError."""
        try:
            yield
        except ArtifactPlaneError:
            # BackendUnavailableError is itself an OSError (ConnectionError): keep ours as they are.
            raise
        except OSError as exc:
            reason = f"cannot {action} under {self._root}: {exc.strerror or exc}"
            raise BackendUnavailableError("payloads", reason) from exc

    async def _io(self, action: str, func: Callable[[], T]) -> T:
        """Run blocking file I/O in a worker thread, translating its errors."""
        with self._translate(action):
            return await anyio.to_thread.run_sync(func)

    def _ensure_tmp(self) -> None:
        self._root.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        self._tmp.mkdir(mode=DIR_MODE, exist_ok=True)

    def _create_temp(self, temp: _TempFile) -> None:
        self._ensure_tmp()
        temp.create()

    def _finish(self, tenant: str, temp: _TempFile, expected_sha256: str | None) -> os.stat_result:
        """Check the digest of a complete temp file and commit it under its key."""
        digest = temp.hexdigest()
        if expected_sha256 is not None and digest != expected_sha256:
            raise InvalidInputError("payload", f"sha256 is {digest}, expected {expected_sha256}")
        return self._commit(temp, self._root / payload_key(tenant, digest))

    def _commit(self, temp: _TempFile, final: Path) -> os.stat_result:
        """Move a complete temp file into place, durably; keep an existing copy."""
        existing = _stat_or_none(final)
        # Same digest, same size: the stored copy is this payload (a size
        # mismatch means a damaged copy, which the rename below repairs).
        if existing is not None and existing.st_size == temp.size:
            try:
                # Refresh the mtime so garbage collection's grace protects it.
                os.utime(final)
            except FileNotFoundError:
                pass  # collected just now: fall through and store our copy
            else:
                temp.discard()
                return final.stat()
        temp.finish()
        self._make_dirs(final.parent)
        os.replace(temp.path, final)
        _fsync_dir(final.parent)
        return final.stat()

    def _make_dirs(self, directory: Path) -> None:
        """Create missing directories, fsyncing each parent so they survive a crash."""
        missing: list[Path] = []
        while not directory.is_dir() and directory != directory.parent:
            missing.append(directory)
            directory = directory.parent
        for path in reversed(missing):
            with contextlib.suppress(FileExistsError):  # a concurrent writer made it
                path.mkdir(mode=DIR_MODE)
            _fsync_dir(path.parent)


class _TempFile:
    """A payload being written: its temp file, running digest and size."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.size = 0
        self.created = False
        self._hash = hashlib.sha256()
        self._file: BinaryIO | None = None

    def create(self) -> None:
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        self._file = os.fdopen(fd, "wb")
        self.created = True

    def write(self, batch: list[bytes]) -> None:
        assert self._file is not None
        for chunk in batch:
            self._hash.update(chunk)
            self._file.write(chunk)
            self.size += len(chunk)

    def hexdigest(self) -> str:
        return self._hash.hexdigest()

    def finish(self) -> None:
        """Flush and fsync, so the bytes are on disk before the rename."""
        assert self._file is not None
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        self._file = None

    def discard(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
            self._file = None
        with contextlib.suppress(OSError):
            self.path.unlink(missing_ok=True)


async def _with_last(
    batches: AsyncGenerator[list[bytes], None],
) -> AsyncGenerator[tuple[list[bytes], bool], None]:
    """Each batch with whether it is the last one (one batch of lookahead)."""
    try:
        previous: list[bytes] | None = None
        async for batch in batches:
            if previous is not None:
                yield previous, False
            previous = batch
        if previous is not None:
            yield previous, True
    finally:
        await batches.aclose()


def _open_at(path: Path, sha256: str, offset: int) -> tuple[BinaryIO, int]:
    """Open a stored payload positioned at ``offset``; returns the handle and the size."""
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        raise NotFoundError("payload", sha256) from None
    try:
        size = os.fstat(handle.fileno()).st_size
        if offset > size:
            raise InvalidInputError("offset", f"{offset} is beyond the payload's {size} bytes")
        handle.seek(offset)
    except BaseException:
        handle.close()
        raise
    return handle, size


def _stored(tenant: str, digest: str, info: os.stat_result) -> StoredPayload:
    return StoredPayload(
        tenant_id=tenant,
        sha256=digest,
        size_bytes=info.st_size,
        key=payload_key(tenant, digest),
        modified_at=datetime.fromtimestamp(info.st_mtime, UTC),
    )


def _stat_or_none(path: Path) -> os.stat_result | None:
    try:
        return path.stat()
    except FileNotFoundError:
        return None


def _unlink(path: Path) -> bool:
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True


def _fsync_dir(path: Path) -> None:
    """Make a rename or creation in ``path`` durable (POSIX; Windows cannot open directories)."""
    if os.name != "posix":
        return
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _list_dir(path: Path) -> list[str]:
    """Sorted names of the subdirectories of ``path``; none when it is missing."""
    try:
        with os.scandir(path) as entries:
            return sorted(entry.name for entry in entries if entry.is_dir(follow_symlinks=False))
    except FileNotFoundError:
        return []


def _scan_shard(shard: Path) -> list[tuple[str, os.stat_result]]:
    """Payload files under one ``{aa}`` directory whose names fit their place."""
    found: list[tuple[str, os.stat_result]] = []
    for sub in _list_dir(shard):
        with contextlib.suppress(FileNotFoundError), os.scandir(shard / sub) as entries:
            for entry in entries:
                name = entry.name
                if not (DIGEST_PATTERN.fullmatch(name) and name[:2] == shard.name and name[2:4] == sub):
                    continue
                with contextlib.suppress(FileNotFoundError):  # deleted while scanning
                    if entry.is_file(follow_symlinks=False):
                        found.append((name, entry.stat(follow_symlinks=False)))
    return sorted(found, key=lambda item: item[0])


def _remove_older(directory: Path, cutoff: float) -> int:
    removed = 0
    try:
        with os.scandir(directory) as listing:
            entries = list(listing)
    except FileNotFoundError:
        return 0
    for entry in entries:
        with contextlib.suppress(FileNotFoundError):  # another cleaner won the race
            if entry.is_file(follow_symlinks=False) and entry.stat(follow_symlinks=False).st_mtime < cutoff:
                os.unlink(entry.path)
                removed += 1
    return removed
