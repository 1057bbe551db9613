"""GcsPayloadStore: payloads as objects in a Google Cloud Storage bucket.

Layout under ``gs://{bucket}/{prefix}``::

    tenants/{tenant}/sha256/{aa}/{bb}/{digest}   one object per stored payload
    tmp/{uuid}.tmp                               a long payload between upload and rewrite

How a payload reaches its key without ever being half there, and how a
re-stored digest is kept safe from garbage collection, is told in
:mod:`artifact_plane.adapters.gcs.objects`. The blocking client runs in
worker threads only; its transient failures are retried with exponential
backoff up to ``retry_deadline`` and then raised as BackendUnavailableError.
"""

from __future__ import annotations

import functools
import re
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextlib import aclosing
from datetime import datetime
from typing import Any, TypeVar

import anyio
import anyio.to_thread

from artifact_plane.adapters.gcs.errors import translated
from artifact_plane.adapters.gcs.objects import Blob, Objects, Upload, modified_at
from artifact_plane.adapters.gcs.source import close_source
from artifact_plane.errors import (
    BackendUnavailableError,
    ConfigurationError,
    InvalidInputError,
    NotFoundError,
)
from artifact_plane.ids import DIGEST_PATTERN, ID_PATTERN, payload_key, validate_id
from artifact_plane.models import StoredPayload
from artifact_plane.ports.payloads import CHUNK_SIZE, PayloadStore, check_put_args, check_range, chunk_batches

__all__ = ["GcsPayloadStore"]

T = TypeVar("T")
MIB = 1024 * 1024
RESUMABLE_MULTIPLE = 256 * 1024  # GCS resumable uploads send whole multiples of 256 KiB
BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$")
PREFIX = re.compile(r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$")
PAGE_SIZE = 1000


class GcsPayloadStore(PayloadStore):
    """Payloads in ``gs://{bucket}/{prefix}``.

    Args:
        bucket: an existing bucket.
        prefix: where under the bucket the store keeps its objects ("" for the root).
        endpoint: an emulator's URL, used with anonymous credentials. Without
            it the client honours ``STORAGE_EMULATOR_HOST`` and otherwise uses
            application-default credentials.
        project: the Google Cloud project of the client (default: from the environment).
        upload_chunk_size: bytes per resumable-upload request (a multiple of
            256 KiB); payloads up to this size are sent in one request.
        download_chunk_size: bytes per ranged download request.
        timeout: seconds one HTTP request may take.
        retry_deadline: seconds transient failures (connection errors,
            timeouts, 408/429/5xx) are retried for, with exponential backoff
            from ``retry_initial`` to ``retry_maximum`` seconds.
    """

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint: str | None = None,
        project: str | None = None,
        upload_chunk_size: int = 8 * MIB,
        download_chunk_size: int = 8 * MIB,
        timeout: float = 60.0,
        retry_deadline: float = 120.0,
        retry_initial: float = 0.5,
        retry_maximum: float = 10.0,
    ) -> None:
        if not BUCKET_NAME.fullmatch(bucket) or ".." in bucket:
            raise ConfigurationError(
                "AP_PAYLOADS_URL", f"{bucket!r} is not a bucket name (gs://bucket/prefix)"
            )
        prefix = prefix.strip("/")
        if prefix and (not PREFIX.fullmatch(prefix) or {".", ".."} & set(prefix.split("/"))):
            raise ConfigurationError(
                "AP_PAYLOADS_URL", f"prefix {prefix!r}: use letters, digits, . _ - and /"
            )
        if upload_chunk_size <= 0 or upload_chunk_size % RESUMABLE_MULTIPLE:
            raise ConfigurationError("upload_chunk_size", f"{upload_chunk_size} is not a multiple of 256 KiB")
        if download_chunk_size <= 0:
            raise ConfigurationError("download_chunk_size", f"{download_chunk_size} must be positive")
        if min(timeout, retry_deadline, retry_initial, retry_maximum) <= 0:
            raise ConfigurationError("timeout", "timeouts and retry delays must be positive")
        self._bucket_name = bucket
        self._prefix = f"{prefix}/" if prefix else ""
        self._endpoint = endpoint
        self._project = project
        self._upload_chunk = upload_chunk_size
        self._download_chunk = download_chunk_size
        self._timeout = timeout
        self._retry_args = (retry_deadline, retry_initial, retry_maximum)
        self._where = f"gs://{bucket}/{self._prefix}"
        self._client: Any = None
        self._objects: Objects | None = None
        self._lock = threading.Lock()

    @property
    def location(self) -> str:
        """``gs://bucket/prefix/``."""
        return self._where

    # -------------------------------------------------------------- the port

    async def put_stream(
        self,
        tenant: str,
        chunks: AsyncIterator[bytes] | Iterable[bytes],
        *,
        max_size: int | None = None,
        expected_sha256: str | None = None,
    ) -> StoredPayload:
        """Store a stream; see :meth:`PayloadStore.put_stream` and the module docstring.

        With ``expected_sha256`` naming a digest already stored, the source is
        closed unread and the stored copy refreshed.
        """
        validate_id(tenant, "tenant")
        check_put_args(chunks, max_size, expected_sha256)
        if expected_sha256 is not None:
            name = self._name(tenant, expected_sha256)
            existing = await self._io("write", lambda: self._refresh_existing(name))
            if existing is not None:
                await close_source(chunks)
                if max_size is not None and existing.size > max_size:
                    raise InvalidInputError("payload", f"larger than max_size={max_size} bytes")
                return self._stored(tenant, expected_sha256, existing)
        objects = await self._io("reach", self._connect)
        upload = Upload(objects, f"{self._prefix}tmp/{uuid.uuid4().hex}.tmp", self._upload_chunk)
        try:
            async with aclosing(chunk_batches(chunks, CHUNK_SIZE, max_size)) as source:
                async for batch in source:
                    await self._io("write", functools.partial(upload.add, batch))
            digest = upload.hexdigest()
            if expected_sha256 is not None and digest != expected_sha256:
                raise InvalidInputError("payload", f"sha256 is {digest}, expected {expected_sha256}")
            blob = await self._io("write", functools.partial(upload.commit, self._name(tenant, digest)))
        finally:
            # Shielded: a cancelled writer must still cancel its session or delete its temp object.
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(upload.discard)
        return self._stored(tenant, digest, blob)

    def open(
        self, tenant: str, sha256: str, *, offset: int = 0, length: int | None = None
    ) -> AsyncIterator[bytes]:
        """Stream a payload or a byte range of it in ranged requests; see :meth:`PayloadStore.open`.

        Malformed arguments raise InvalidInputError at once; NotFoundError and
        an offset beyond the end (InvalidInputError) on first iteration. Every
        request reads the generation found at the start, so a payload deleted
        mid-read raises NotFoundError rather than mixing two objects.
        """
        name = self._name(tenant, sha256)
        check_range(offset, length)
        return self._read(name, sha256, offset, length)

    async def _read(self, name: str, sha256: str, offset: int, length: int | None) -> AsyncIterator[bytes]:
        objects = await self._io("read", self._connect)
        blob = await self._io("read", functools.partial(objects.get, name))
        if blob is None:
            raise NotFoundError("payload", sha256)
        size = int(blob.size or 0)
        if offset > size:
            raise InvalidInputError("offset", f"{offset} is beyond the payload's {size} bytes")
        end = size if length is None else min(size, offset + length)
        position = offset
        while position < end:
            last = min(end, position + self._download_chunk) - 1
            data = await self._io(
                "read", functools.partial(self._read_range, objects, blob, sha256, position, last)
            )
            if len(data) != last - position + 1:
                # The generation is pinned, so its bytes cannot change: a short answer is a broken one.
                reason = f"{name}: asked for bytes {position}-{last}, got {len(data)}; retry"
                raise BackendUnavailableError("payloads", reason)
            position += len(data)
            for start in range(0, len(data), CHUNK_SIZE):
                yield data[start : start + CHUNK_SIZE]

    async def stat(self, tenant: str, sha256: str) -> StoredPayload | None:
        """What is stored under the digest, or None."""
        name = self._name(tenant, sha256)
        blob = await self._io("stat", lambda: self._connect().get(name))
        return None if blob is None else self._stored(tenant, sha256, blob)

    async def delete(self, tenant: str, sha256: str) -> bool:
        """Remove a payload; True when something was removed."""
        name = self._name(tenant, sha256)
        return await self._io("delete", lambda: self._connect().delete(name))

    async def delete_if_stale(self, tenant: str, sha256: str, older_than: datetime) -> bool:
        """Remove a payload last written before ``older_than``, atomically against a refresh."""
        if older_than.tzinfo is None or older_than.utcoffset() is None:
            raise InvalidInputError("older_than", "must be timezone-aware")
        name = self._name(tenant, sha256)

        def collect() -> bool:
            objects = self._connect()
            blob = objects.get(name)
            if blob is None or modified_at(blob) >= older_than:
                return False
            return objects.delete_matching(blob)

        return await self._io("delete", collect)

    async def scan(self) -> AsyncIterator[StoredPayload]:
        """Every stored payload, ordered by tenant then digest; ``tmp/`` and strays are skipped.

        One page of the listing per worker-thread hop, so a large bucket is
        never held in memory at once.
        """
        tenants = await self._io("scan", self._tenants)
        for tenant in tenants:
            if not ID_PATTERN.fullmatch(tenant):
                continue
            pages = await self._io("scan", functools.partial(self._pages, f"{self._prefix}tenants/{tenant}/"))
            while (page := await self._io("scan", functools.partial(next, pages, None))) is not None:
                for blob in page:
                    digest = blob.name.rpartition("/")[2]
                    if DIGEST_PATTERN.fullmatch(digest) and blob.name == self._name(tenant, digest):
                        yield self._stored(tenant, digest, blob)

    async def clean_temp(self, older_than: datetime) -> int:
        """Delete temporary objects created before ``older_than``; how many were deleted.

        They are what a writer that died between finishing its upload and
        deleting its temporary object leaves behind. A live writer's temporary
        object is created at the end of its upload and deleted moments later,
        so a cut-off well in the past (the GC grace period) spares it.

        Raises:
            InvalidInputError: ``older_than`` is naive (no time zone).
        """
        if older_than.tzinfo is None or older_than.utcoffset() is None:
            raise InvalidInputError("older_than", "must be timezone-aware")

        def clean() -> int:
            objects = self._connect()
            removed = 0
            for page in self._pages(f"{self._prefix}tmp/"):
                for blob in page:
                    if blob.time_created is not None and blob.time_created < older_than:
                        removed += objects.delete_matching(blob)
            return removed

        return await self._io("clean", clean)

    async def ping(self) -> None:
        """List one object under the prefix (needs only the object permissions the store uses)."""

        def probe() -> None:
            objects = self._connect()
            list(objects.bucket.list_blobs(prefix=self._prefix, max_results=1, **self._call()))

        await self._io("reach", probe)

    async def close(self) -> None:
        """Close the client's HTTP session (a later call opens a new one)."""
        with self._lock:
            client, self._client, self._objects = self._client, None, None
        if client is not None:
            await anyio.to_thread.run_sync(client.close)

    # -------------------------------------------------------------- helpers

    def _name(self, tenant: str, sha256: str) -> str:
        """The object name of a payload (validating both parts first)."""
        return self._prefix + payload_key(tenant, sha256)

    def _stored(self, tenant: str, digest: str, blob: Blob) -> StoredPayload:
        return StoredPayload(
            tenant_id=tenant,
            sha256=digest,
            size_bytes=int(blob.size or 0),
            key=payload_key(tenant, digest),
            modified_at=modified_at(blob),
        )

    def _call(self) -> dict[str, Any]:
        assert self._objects is not None
        return {"retry": self._objects.retry, "timeout": self._timeout}

    def _connect(self) -> Objects:
        """The client, built on first use (blocking: credentials may be looked up)."""
        with self._lock:
            if self._objects is None:
                from google.api_core.client_options import ClientOptions
                from google.auth.credentials import AnonymousCredentials
                from google.cloud.storage import Client
                from google.cloud.storage.retry import DEFAULT_RETRY

                deadline, initial, maximum = self._retry_args
                retry = DEFAULT_RETRY.with_timeout(deadline).with_delay(
                    initial=initial, maximum=maximum, multiplier=2.0
                )
                if self._endpoint is not None:
                    self._client = Client(
                        project=self._project or "emulator",
                        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
                        client_options=ClientOptions(api_endpoint=self._endpoint),
                    )
                else:
                    self._client = Client(project=self._project)
                self._objects = Objects(self._client.bucket(self._bucket_name), retry, self._timeout)
            return self._objects

    def _refresh_existing(self, name: str) -> Blob | None:
        objects = self._connect()
        blob = objects.get(name)
        return None if blob is None else objects.refresh(blob)

    def _read_range(self, objects: Objects, blob: Blob, sha256: str, start: int, end: int) -> bytes:
        from google.api_core import exceptions as api

        try:
            return objects.read(blob, start, end)
        except (api.NotFound, api.PreconditionFailed):
            raise NotFoundError("payload", sha256) from None  # deleted (or replaced) mid-read

    def _tenants(self) -> list[str]:
        """The tenant names under ``tenants/``, sorted."""
        root = f"{self._prefix}tenants/"
        listing = self._connect().bucket.list_blobs(prefix=root, delimiter="/", **self._call())
        for _ in listing.pages:  # the prefixes fill in as the pages are read
            pass
        return sorted(prefix[len(root) :].rstrip("/") for prefix in listing.prefixes)

    def _pages(self, prefix: str) -> Iterator[list[Blob]]:
        listing = self._connect().bucket.list_blobs(prefix=prefix, page_size=PAGE_SIZE, **self._call())
        return (list(page) for page in listing.pages)

    async def _io(self, action: str, func: Callable[[], T]) -> T:
        """Run a blocking client call in a worker thread, translating its errors."""
        with translated(action, self._where):
            return await anyio.to_thread.run_sync(func)
