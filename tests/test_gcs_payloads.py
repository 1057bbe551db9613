"""The payload contract over Google Cloud Storage (the emulator), and what only GCS can show."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from artifact_plane.adapters.gcs import GcsPayloadStore
from artifact_plane.errors import ConfigurationError, InvalidInputError, NotFoundError
from artifact_plane.ids import payload_key
from artifact_plane.ports.payloads import CHUNK_SIZE, PayloadStore
from artifact_plane.settings import Settings
from artifact_plane.wiring import build_payloads
from tests.contracts.payloads_contract import TENANT, PayloadStoreContract, agen, blob, scan_all, sha
from tests.gcs import raw_client

PREFIX = "plane/payloads"
SMALL_CHUNK = 256 * 1024  # the least a resumable upload allows: payloads past it stream through tmp/


def store_for(server: str, bucket: str, **options: Any) -> GcsPayloadStore:
    return GcsPayloadStore(bucket, PREFIX, endpoint=server, timeout=10, retry_deadline=10, **options)


def object_names(server: str, bucket: str) -> list[str]:
    return sorted(b.name for b in raw_client(server).list_blobs(bucket))


class TestGcsPayloadStore(PayloadStoreContract):
    """The contract with the default chunk sizes: every contract payload fits one upload request."""

    @pytest.fixture
    async def payloads(self, gcs_server: str, gcs_bucket: str) -> AsyncIterator[PayloadStore]:
        store = store_for(gcs_server, gcs_bucket)
        yield store
        await store.close()
        # Whatever a test did, nothing but payloads may be left: no temporary object.
        assert [n for n in object_names(gcs_server, gcs_bucket) if "/tmp/" in n] == []


class TestGcsPayloadStoreStreaming(PayloadStoreContract):
    """The contract again with 256 KiB chunks, so larger payloads take the resumable path via tmp/."""

    @pytest.fixture
    async def payloads(self, gcs_server: str, gcs_bucket: str) -> AsyncIterator[PayloadStore]:
        store = store_for(gcs_server, gcs_bucket, upload_chunk_size=SMALL_CHUNK, download_chunk_size=100_000)
        yield store
        await store.close()
        assert [n for n in object_names(gcs_server, gcs_bucket) if "/tmp/" in n] == []


@pytest.fixture
async def streaming(gcs_server: str, gcs_bucket: str) -> AsyncIterator[GcsPayloadStore]:
    store = store_for(gcs_server, gcs_bucket, upload_chunk_size=SMALL_CHUNK, download_chunk_size=100_000)
    yield store
    await store.close()


async def test_layout_in_the_bucket(streaming: GcsPayloadStore, gcs_server: str, gcs_bucket: str) -> None:
    small, large = b"where does it go", blob(3 * SMALL_CHUNK + 5)
    for data in (small, large):
        stored = await streaming.put_bytes(TENANT, data)
        assert stored.key == payload_key(TENANT, sha(data))
    assert object_names(gcs_server, gcs_bucket) == sorted(
        f"{PREFIX}/{payload_key(TENANT, sha(data))}" for data in (small, large)
    )
    bucket = raw_client(gcs_server).bucket(gcs_bucket)
    assert bucket.blob(f"{PREFIX}/{payload_key(TENANT, sha(large))}").download_as_bytes() == large


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_a_stream_failing_mid_upload_leaves_no_object(
    streaming: GcsPayloadStore, gcs_server: str, gcs_bucket: str, kind: str
) -> None:
    part = blob(CHUNK_SIZE)  # four resumable chunks have been sent when the source breaks

    def sync_source() -> Iterator[bytes]:
        yield part
        yield part
        raise OSError("the caller's source failed")

    async def async_source() -> AsyncIterator[bytes]:
        for chunk in sync_source():
            yield chunk

    with pytest.raises(OSError, match="caller's source"):
        await streaming.put_stream(TENANT, sync_source() if kind == "sync" else async_source())
    assert object_names(gcs_server, gcs_bucket) == []


async def test_rejected_streams_leave_no_object(
    streaming: GcsPayloadStore, gcs_server: str, gcs_bucket: str
) -> None:
    data = blob(3 * CHUNK_SIZE)
    with pytest.raises(InvalidInputError):
        await streaming.put_stream(TENANT, agen([data[:CHUNK_SIZE]] * 3), max_size=2 * CHUNK_SIZE + 1)
    with pytest.raises(InvalidInputError):
        await streaming.put_stream(TENANT, agen([data]), expected_sha256=sha(b"other"))
    assert object_names(gcs_server, gcs_bucket) == []


async def test_cancelled_upload_leaves_no_object(
    streaming: GcsPayloadStore, gcs_server: str, gcs_bucket: str
) -> None:
    sent = asyncio.Event()

    async def stalled() -> AsyncIterator[bytes]:
        yield blob(2 * CHUNK_SIZE)  # past one upload chunk: the resumable session is open
        yield b"more"
        sent.set()
        await asyncio.Event().wait()
        yield b"never"  # pragma: no cover

    task = asyncio.create_task(streaming.put_stream(TENANT, stalled()))
    await sent.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert object_names(gcs_server, gcs_bucket) == []


async def test_known_digest_is_not_uploaded_again(streaming: GcsPayloadStore) -> None:
    data = blob(2 * SMALL_CHUNK)
    first = await streaming.put_bytes(TENANT, data)
    pulled = 0

    async def source() -> AsyncIterator[bytes]:
        nonlocal pulled
        for start in range(0, len(data), 1000):
            pulled += 1
            yield data[start : start + 1000]

    again = await streaming.put_stream(TENANT, source(), expected_sha256=first.sha256)
    assert pulled == 0, "an expected digest that is stored already must not be read or sent"
    assert (again.sha256, again.size_bytes) == (first.sha256, first.size_bytes)
    assert again.modified_at >= first.modified_at
    with pytest.raises(InvalidInputError):
        await streaming.put_stream(TENANT, source(), expected_sha256=first.sha256, max_size=len(data) - 1)


async def test_a_refresh_between_gc_check_and_delete_wins(
    streaming: GcsPayloadStore, gcs_server: str, gcs_bucket: str
) -> None:
    """GC reads the payload as stale; a writer re-stores it; GC's delete must then fail."""
    stored = await streaming.put_bytes(TENANT, b"raced")
    objects = streaming._connect()
    seen_by_gc = objects.get(f"{PREFIX}/{stored.key}")  # the check half of delete_if_stale
    assert seen_by_gc is not None
    refreshed = await streaming.put_bytes(TENANT, b"raced")  # a writer is promised the payload
    assert refreshed.modified_at >= stored.modified_at
    assert objects.delete_matching(seen_by_gc) is False  # the delete half, on what GC read
    assert await streaming.get_bytes(TENANT, stored.sha256) == b"raced"
    # Without the refresh, the same two halves do delete it.
    seen_again = objects.get(f"{PREFIX}/{stored.key}")
    assert objects.delete_matching(seen_again) is True
    assert await streaming.stat(TENANT, stored.sha256) is None


async def test_delete_if_stale_needs_an_aware_cutoff(streaming: GcsPayloadStore) -> None:
    with pytest.raises(InvalidInputError):
        await streaming.delete_if_stale(TENANT, sha(b"x"), datetime.now())  # naive on purpose


async def test_payload_deleted_mid_read_is_not_found(streaming: GcsPayloadStore) -> None:
    data = blob(5 * 100_000)
    stored = await streaming.put_bytes(TENANT, data)
    reader = streaming.open(TENANT, stored.sha256)
    first = await anext(reader)
    assert data.startswith(first)
    assert await streaming.delete(TENANT, stored.sha256)
    with pytest.raises(NotFoundError):
        async for _ in reader:
            pass


async def test_clean_temp_removes_old_temporary_objects_only(
    streaming: GcsPayloadStore, gcs_server: str, gcs_bucket: str
) -> None:
    kept = await streaming.put_bytes(TENANT, b"keep me")
    bucket = raw_client(gcs_server).bucket(gcs_bucket)
    bucket.blob(f"{PREFIX}/tmp/crashed.tmp").upload_from_string(b"left by a writer that died")
    assert await streaming.clean_temp(datetime.now(UTC) - timedelta(hours=1)) == 0
    assert await streaming.clean_temp(datetime.now(UTC) + timedelta(minutes=1)) == 1
    assert object_names(gcs_server, gcs_bucket) == [f"{PREFIX}/{kept.key}"]
    with pytest.raises(InvalidInputError):
        await streaming.clean_temp(datetime.now())  # naive on purpose


async def test_scan_skips_temp_and_stray_objects(
    streaming: GcsPayloadStore, gcs_server: str, gcs_bucket: str
) -> None:
    stored = await streaming.put_bytes(TENANT, b"real")
    digest = sha(b"stray")
    bucket = raw_client(gcs_server).bucket(gcs_bucket)
    for name in [
        f"{PREFIX}/tmp/abc.tmp",
        f"{PREFIX}/tenants/{TENANT}/sha256/zz/notes.txt",
        f"{PREFIX}/tenants/{TENANT}/sha256/00/00/{digest}",  # wrong shard for its name
        f"{PREFIX}/tenants/not.an.id/sha256/{digest[:2]}/{digest[2:4]}/{digest}",
        f"{PREFIX}/tenants/{TENANT}/sha256/{digest[:2]}/{digest[2:4]}/{digest}.bak",
        f"elsewhere/tenants/{TENANT}/sha256/{digest[:2]}/{digest[2:4]}/{digest}",  # outside the prefix
    ]:
        bucket.blob(name).upload_from_string(b"stray")
    assert await scan_all(streaming) == [stored]


async def test_two_prefixes_in_one_bucket_are_two_stores(gcs_server: str, gcs_bucket: str) -> None:
    one = GcsPayloadStore(gcs_bucket, "one", endpoint=gcs_server)
    two = GcsPayloadStore(gcs_bucket, "two/deeper", endpoint=gcs_server)
    stored = await one.put_bytes(TENANT, b"mine")
    assert await two.stat(TENANT, stored.sha256) is None
    assert await scan_all(two) == []
    assert [s.sha256 for s in await scan_all(one)] == [stored.sha256]


@pytest.mark.parametrize(
    ("bucket", "prefix"),
    [("", ""), ("UPPER", ""), ("a", ""), ("ok-bucket", "../up"), ("ok-bucket", "a//b"), ("ok-bucket", "s p")],
)
def test_bad_bucket_or_prefix_is_a_configuration_error(bucket: str, prefix: str) -> None:
    with pytest.raises(ConfigurationError):
        GcsPayloadStore(bucket, prefix)


def test_bad_chunk_size_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="256 KiB"):
        GcsPayloadStore("ok-bucket", upload_chunk_size=1000)


def test_wiring_builds_a_gcs_store_from_a_gs_url() -> None:
    store = build_payloads(Settings(payloads_url="gs://my-bucket/some/prefix", _env_file=None))  # type: ignore[call-arg]
    assert isinstance(store, GcsPayloadStore)
    assert store.location == "gs://my-bucket/some/prefix/"
    root = build_payloads(Settings(payloads_url="gs://my-bucket", _env_file=None))  # type: ignore[call-arg]
    assert isinstance(root, GcsPayloadStore)
    assert root.location == "gs://my-bucket/"
    with pytest.raises(ConfigurationError, match="bucket"):
        build_payloads(Settings(payloads_url="gs:///prefix-only", _env_file=None))  # type: ignore[call-arg]


@pytest.mark.parametrize("size", [10_000, 3 * SMALL_CHUNK])  # one request; resumable upload and rewrite
async def test_a_damaged_copy_is_repaired_by_writing_again(
    streaming: GcsPayloadStore, gcs_server: str, gcs_bucket: str, size: int
) -> None:
    data = blob(size)
    stored = await streaming.put_bytes(TENANT, data)
    raw_client(gcs_server).bucket(gcs_bucket).blob(f"{PREFIX}/{stored.key}").upload_from_string(data[:5000])
    assert (await streaming.put_bytes(TENANT, data)).size_bytes == len(data)
    assert await streaming.get_bytes(TENANT, stored.sha256) == data
    assert object_names(gcs_server, gcs_bucket) == [f"{PREFIX}/{stored.key}"]


async def test_a_long_payload_stored_again_is_refreshed_not_rewritten(
    streaming: GcsPayloadStore, gcs_server: str, gcs_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import requests

    data = blob(3 * SMALL_CHUNK + 7)
    first = await streaming.put_bytes(TENANT, data)
    sent: list[str] = []
    send = requests.Session.request

    def watched(self: requests.Session, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        sent.append(f"{method} {url}")
        return send(self, method, url, *args, **kwargs)

    monkeypatch.setattr(requests.Session, "request", watched)
    again = await streaming.put_bytes(TENANT, data)
    monkeypatch.undo()
    assert (again.sha256, again.size_bytes, again.key) == (first.sha256, first.size_bytes, first.key)
    assert again.modified_at >= first.modified_at
    # The digest is known only once every byte has passed, so the bytes went to a resumable
    # session; but the session was never completed and nothing was copied to the key.
    assert any(line.startswith("POST") and "uploadType=resumable" in line for line in sent)
    assert any(line.startswith("DELETE") and "upload_id=" in line for line in sent), "session not cancelled"
    assert not any("rewriteTo" in line for line in sent)
    assert object_names(gcs_server, gcs_bucket) == [f"{PREFIX}/{first.key}"]
