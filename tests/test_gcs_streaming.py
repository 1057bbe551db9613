"""Streaming through GCS: 256 MiB in and out with memory bounded by the chunk size, not the payload."""

from __future__ import annotations

import hashlib
import random
import tracemalloc
from collections.abc import AsyncIterator

from artifact_plane.adapters.gcs import GcsPayloadStore
from tests.gcs import raw_client

MIB = 1024 * 1024
TOTAL = 256 * MIB
UPLOAD_CHUNK = 8 * MIB  # the store's default: one resumable request each
# What may be alive at once: the chunk the source just made, the batch being
# hashed, the upload buffer and the request body being sent (each about one
# upload chunk), plus the client's own copies. A whole payload would be 256 MiB.
LIMIT = 6 * UPLOAD_CHUNK


async def test_256_mib_round_trip_keeps_memory_bounded(gcs_server: str, gcs_bucket: str) -> None:
    store = GcsPayloadStore(gcs_bucket, "big", endpoint=gcs_server, upload_chunk_size=UPLOAD_CHUNK)
    expected = hashlib.sha256()
    rng = random.Random(20240611)

    async def source() -> AsyncIterator[bytes]:
        for _ in range(TOTAL // MIB):
            chunk = rng.randbytes(MIB)  # fresh bytes each time, as from a socket
            expected.update(chunk)
            yield chunk

    tracemalloc.start()
    try:
        stored = await store.put_stream("acme", source())
        _, write_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        got = hashlib.sha256()
        read = 0
        async for chunk in store.open("acme", stored.sha256):
            got.update(chunk)
            read += len(chunk)
        _, read_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    try:
        assert stored.size_bytes == read == TOTAL
        assert stored.sha256 == got.hexdigest() == expected.hexdigest()
        names = [b.name for b in raw_client(gcs_server).list_blobs(gcs_bucket)]
        assert names == [f"big/{stored.key}"], "the payload is at its key and no temporary object is left"
        assert write_peak < LIMIT, f"put_stream peaked at {write_peak / MIB:.1f} MiB (limit {LIMIT // MIB})"
        assert read_peak < LIMIT, f"open peaked at {read_peak / MIB:.1f} MiB (limit {LIMIT // MIB})"
    finally:
        await store.delete("acme", stored.sha256)  # the emulator holds it in memory
        await store.close()
