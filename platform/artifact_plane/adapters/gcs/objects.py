"""Blocking object operations of the GCS payload store (run in worker threads).

Content keys are written only whole and only if absent:

* a payload of at most one upload chunk is held in memory, hashed, and sent
  in one request straight to its content key with ``ifGenerationMatch=0``;
* a longer one streams to a temporary object ``tmp/{uuid}.tmp`` through a
  resumable upload, chunk by chunk, while it is hashed; once the digest is
  known (and checked) the temporary object is rewritten server-side to its
  content key with ``ifGenerationMatch=0`` and deleted. A failure before the
  end leaves at most an unfinished resumable session (invisible, and expired
  by GCS), never an object; a crash between the rewrite and the delete leaves
  a temporary object, which ``clean_temp`` removes.

A copy of another size at a content key is damaged (the digest fixes the
size) and is replaced, conditionally on the generation that was read.

Storing a digest that is already there uploads nothing more and patches the
object's ``customTime`` to now, which bumps its metageneration. Garbage
collection deletes with ``ifGenerationMatch`` and ``ifMetagenerationMatch``
read in the same check, so a refresh that lands between its check and its
delete makes the delete fail (412) instead of removing a payload a writer has
just been promised.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from google.api_core import exceptions as api
from google.cloud.storage.fileio import BlobWriter

from artifact_plane.errors import BackendUnavailableError

Blob = Any  # google.cloud.storage.Blob: the library ships no type information
SETTLE_ATTEMPTS = 5  # refresh-or-create rounds before giving up on a key that keeps changing


def modified_at(blob: Blob) -> datetime:
    """When the payload was last (re-)stored: its creation, or a later refresh (customTime)."""
    created: datetime = blob.time_created or blob.updated or datetime.now(UTC)
    refreshed: datetime | None = blob.custom_time
    return created if refreshed is None or refreshed < created else refreshed


class Objects:
    """Conditional object operations on one bucket, each with the store's retry and timeout."""

    def __init__(self, bucket: Any, retry: Any, timeout: float) -> None:
        self.bucket = bucket
        self.retry = retry
        self.timeout = timeout

    def get(self, name: str) -> Blob | None:
        """The object's metadata, or None."""
        return self.bucket.get_blob(name, retry=self.retry, timeout=self.timeout)

    def refresh(self, blob: Blob) -> Blob | None:
        """Set ``customTime`` to now (never backwards: GCS refuses that); None if it is gone."""
        now = datetime.now(UTC)
        previous: datetime | None = blob.custom_time
        blob.custom_time = now if previous is None or previous < now else previous
        try:
            blob.patch(if_generation_match=blob.generation, retry=self.retry, timeout=self.timeout)
        except (api.NotFound, api.PreconditionFailed):
            return None  # collected (or replaced) meanwhile: the caller stores it again
        return blob

    def settle(self, name: str, size: int, create: Callable[[Blob, int], bool]) -> Blob:
        """Refresh the object at ``name`` if it holds ``size`` bytes, else ``create`` it.

        ``create(blob, generation)`` writes only if the key is still at
        ``generation`` (0: absent; else a damaged copy of another size, which
        it replaces) and returns False when a concurrent writer got there
        first (412); the next round then looks again.
        """
        for _ in range(SETTLE_ATTEMPTS):
            existing = self.get(name)
            if existing is not None and existing.size == size:
                refreshed = self.refresh(existing)
                if refreshed is not None:
                    return refreshed
                continue
            blob = self.bucket.blob(name)
            if create(blob, 0 if existing is None else int(existing.generation)):
                return blob
        raise BackendUnavailableError("payloads", f"{name} kept changing while it was stored; retry")

    def upload(self, blob: Blob, generation: int, data: bytes) -> bool:
        """One-request upload if the key is still at ``generation``; False if not (412)."""
        try:
            blob.upload_from_string(
                data,
                content_type="application/octet-stream",
                if_generation_match=generation,
                retry=self.retry,
                timeout=self.timeout,
            )
        except api.PreconditionFailed:
            return False
        return True

    def rewrite(self, blob: Blob, generation: int, source: Blob) -> bool:
        """Server-side copy of ``source`` if the key is still at ``generation``; False if not (412)."""
        token: str | None = None
        try:
            while True:
                token, _, _ = blob.rewrite(
                    source,
                    token=token,
                    if_generation_match=generation,
                    retry=self.retry,
                    timeout=self.timeout,
                )
                if token is None:
                    return True
        except api.PreconditionFailed:
            return False
        except api.NotFound as exc:
            raise BackendUnavailableError(
                "payloads", f"the temporary object {source.name} vanished before it was stored; retry"
            ) from exc

    def delete_matching(self, blob: Blob) -> bool:
        """Delete the object only as it was read (same generation and metageneration)."""
        try:
            blob.delete(
                if_generation_match=blob.generation,
                if_metageneration_match=blob.metageneration,
                retry=self.retry,
                timeout=self.timeout,
            )
        except (api.NotFound, api.PreconditionFailed):
            return False
        return True

    def delete(self, name: str) -> bool:
        try:
            self.bucket.delete_blob(name, retry=self.retry, timeout=self.timeout)
        except api.NotFound:
            return False
        return True

    def read(self, blob: Blob, start: int, end: int) -> bytes:
        """Bytes ``start..end`` (inclusive) of the generation ``blob`` was read at."""
        data: bytes = blob.download_as_bytes(
            start=start,
            end=end,
            raw_download=True,
            checksum=None,  # a range cannot be checked against the whole object's hash
            if_generation_match=blob.generation,
            retry=self.retry,
            timeout=self.timeout,
        )
        return data


class Upload:
    """One payload being written: its running digest and size, in memory or in a resumable upload.

    Not thread-safe: one worker thread at a time (the store awaits each call).
    """

    def __init__(self, objects: Objects, temp_name: str, chunk_size: int) -> None:
        self.objects = objects
        self.temp = objects.bucket.blob(temp_name)
        self.chunk_size = chunk_size
        self.size = 0
        self._hash = hashlib.sha256()
        self._held: list[bytes] = []
        self._held_size = 0
        self._writer: BlobWriter | None = None
        self._finalized = False

    @property
    def streaming(self) -> bool:
        """True once the payload outgrew one chunk and went to a resumable upload."""
        return self._writer is not None

    def add(self, batch: list[bytes]) -> None:
        for chunk in batch:
            self._hash.update(chunk)
            self.size += len(chunk)
        if self._writer is not None:
            for chunk in batch:
                self._writer.write(chunk)
            return
        self._held.extend(batch)
        self._held_size += sum(len(chunk) for chunk in batch)
        if self._held_size > self.chunk_size:
            self._writer = BlobWriter(
                self.temp,
                chunk_size=self.chunk_size,
                retry=self.objects.retry,  # safe: the temporary name is used by this upload only
                timeout=self.objects.timeout,
                content_type="application/octet-stream",
            )
            held, self._held, self._held_size = self._held, [], 0
            for chunk in held:
                self._writer.write(chunk)

    def hexdigest(self) -> str:
        return self._hash.hexdigest()

    def commit(self, name: str) -> Blob:
        """Store the payload at its content key ``name`` (or refresh the copy already there)."""
        if self._writer is None:
            data = b"".join(self._held)
            self._held = []
            return self.objects.settle(name, self.size, functools.partial(self.objects.upload, data=data))
        existing = self.objects.get(name)
        if existing is not None and existing.size == self.size:
            refreshed = self.objects.refresh(existing)
            if refreshed is not None:
                return refreshed  # nothing more to send; discard() cancels the session
        self._writer.close()  # completes the resumable upload: the temporary object exists now
        self._finalized = True
        return self.objects.settle(name, self.size, functools.partial(self.objects.rewrite, source=self.temp))

    def discard(self) -> None:
        """Best effort: cancel an unfinished resumable session, delete a finished temporary object.

        An unfinished session holds no object and GCS expires it; a temporary
        object left by a failure here is removed by ``clean_temp``.
        """
        self._held = []
        writer, self._writer = self._writer, None
        try:
            if self._finalized:
                self.objects.delete(self.temp.name)
            elif writer is not None:
                _cancel(writer, self.objects.timeout)
        except Exception:  # noqa: S110 (what is left behind is collected later, as documented)
            pass


def _cancel(writer: BlobWriter, timeout: float) -> None:
    """Cancel a resumable session for good: DELETE its session URI (GCS answers 499).

    ``BlobWriter.terminate`` sends its DELETE to the URL the session was
    started from, not to the session, so this reaches into the writer for
    the session URI. Its buffer is closed whatever happens: a writer with an
    open buffer completes the upload when it is closed, and ``io`` closes it
    when it is garbage-collected, which would store the temporary object after all.
    """
    try:
        started = getattr(writer, "_upload_and_transport", None)
        if started:
            upload, transport = started
            session = getattr(upload, "resumable_url", None)
            if session:
                transport.delete(session, timeout=timeout)
    finally:
        writer._buffer.close()
