"""The payload store contract: every PayloadStore adapter passes these tests.

Inherit :class:`PayloadStoreContract` and override the ``payloads`` fixture.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from artifact_plane.errors import InvalidInputError, NotFoundError
from artifact_plane.ids import payload_key
from artifact_plane.models import StoredPayload
from artifact_plane.ports.payloads import CHUNK_SIZE, PayloadStore

TENANT = "acme"
OTHER = "globex"
BAD_TENANTS = [
    "",
    ".",
    "..",
    "../acme",
    "a/b",
    "a\\b",
    "a\x00b",
    "t\u0435nant",  # CYRILLIC SMALL LETTER IE, a look-alike of Latin 'e'
    "x" * 129,
    "acme\n",
    " acme",
]
BAD_DIGESTS = [
    "",
    "abc",
    "A" * 64,  # upper case
    "g" * 64,
    "a" * 63,
    "a" * 65,
    "../" + "a" * 61,
    "aa/bb/" + "a" * 58,
    "a" * 63 + "\x00",
    "\u0430" * 64,  # CYRILLIC SMALL LETTER A, a look-alike of Latin 'a'
]
BIG = 2 * CHUNK_SIZE + 12_345  # more than two chunks of the port's chunk size


def blob(size: int, seed: int = 0) -> bytes:
    """Deterministic bytes that do not compress or repeat."""
    return random.Random(seed).randbytes(size)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def split(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


async def agen(parts: Iterable[bytes]) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


def identity(stored: StoredPayload) -> tuple[str, str, int, str]:
    """What a stored payload is, apart from when it was last (re-)written."""
    return (stored.tenant_id, stored.sha256, stored.size_bytes, stored.key)


class AsyncChunks:
    """An async iterator that is not a generator (no ``aclose``)."""

    def __init__(self, parts: list[bytes]) -> None:
        self._parts = iter(parts)

    def __aiter__(self) -> AsyncChunks:
        return self

    async def __anext__(self) -> bytes:
        try:
            return next(self._parts)
        except StopIteration:
            raise StopAsyncIteration from None


async def collect(chunks: AsyncIterator[bytes]) -> list[bytes]:
    return [chunk async for chunk in chunks]


async def scan_all(store: PayloadStore) -> list[StoredPayload]:
    return [item async for item in store.scan()]


SOURCES: dict[str, Callable[[bytes], object]] = {
    "list": lambda data: split(data, 7919),
    "tuple": lambda data: tuple(split(data, 7919)),
    "generator": lambda data: (part for part in split(data, 7919)),
    "bytearrays": lambda data: [bytearray(part) for part in split(data, 7919)],
    "memoryviews": lambda data: [memoryview(part) for part in split(data, 7919)],
    "async generator": lambda data: agen(split(data, 7919)),
    "async iterator": lambda data: AsyncChunks(split(data, 7919)),
    "one big chunk": lambda data: [data],
}


class PayloadStoreContract:
    """Behaviour every payload store shares. Subclasses override ``payloads``."""

    @pytest.fixture
    async def payloads(self) -> PayloadStore:
        pytest.fail("a PayloadStoreContract subclass must override the `payloads` fixture")

    # -- writing and reading -------------------------------------------------

    async def test_put_bytes_round_trip(self, payloads: PayloadStore) -> None:
        data = b"hello, payloads"
        await payloads.put_bytes(TENANT, data)
        stored = await payloads.put_bytes(TENANT, data)
        assert await payloads.get_bytes(TENANT, stored.sha256) == data

    async def test_stored_payload_describes_the_bytes(self, payloads: PayloadStore) -> None:
        data = blob(5000)
        before = datetime.now(UTC)
        stored = await payloads.put_bytes(TENANT, data)
        after = datetime.now(UTC)
        assert stored.sha256 == sha(data)
        assert stored.size_bytes == len(data)
        assert stored.tenant_id == TENANT
        assert stored.key == payload_key(TENANT, sha(data))
        assert stored.modified_at.utcoffset() == timedelta(0)
        # Filesystem and object-store clocks are coarse; allow a little slack.
        assert before - timedelta(seconds=5) <= stored.modified_at <= after + timedelta(seconds=5)

    async def test_stat_returns_what_put_returned(self, payloads: PayloadStore) -> None:
        stored = await payloads.put_bytes(TENANT, b"stat me")
        assert await payloads.stat(TENANT, stored.sha256) == stored

    async def test_empty_payload(self, payloads: PayloadStore) -> None:
        stored = await payloads.put_bytes(TENANT, b"")
        assert stored.sha256 == sha(b"")
        assert stored.size_bytes == 0
        assert await payloads.get_bytes(TENANT, stored.sha256) == b""
        assert b"".join(await collect(payloads.open(TENANT, stored.sha256))) == b""
        assert identity(await payloads.put_stream(TENANT, [])) == identity(stored)
        assert identity(await payloads.stat(TENANT, stored.sha256)) == identity(stored)  # type: ignore[arg-type]

    async def test_multi_chunk_round_trip_streams_in_chunks(self, payloads: PayloadStore) -> None:
        data = blob(BIG, seed=1)
        stored = await payloads.put_stream(TENANT, agen(split(data, 7919)))
        assert stored.sha256 == sha(data)
        assert stored.size_bytes == len(data)
        chunks = await collect(payloads.open(TENANT, stored.sha256))
        assert len(chunks) > 1, "a payload larger than a chunk must be streamed, not read whole"
        assert all(chunks)
        assert b"".join(chunks) == data

    @pytest.mark.parametrize("source", list(SOURCES))
    async def test_accepts_sync_iterables_and_async_iterators(
        self, payloads: PayloadStore, source: str
    ) -> None:
        data = blob(50_000, seed=2)
        stored = await payloads.put_stream(TENANT, SOURCES[source](data))  # type: ignore[arg-type]
        assert stored.sha256 == sha(data)
        assert stored.size_bytes == len(data)
        assert await payloads.get_bytes(TENANT, stored.sha256) == data

    async def test_bytes_instead_of_chunks_is_invalid(self, payloads: PayloadStore) -> None:
        with pytest.raises(InvalidInputError):
            await payloads.put_stream(TENANT, b"not an iterable of chunks")  # type: ignore[arg-type]
        assert await scan_all(payloads) == []

    @pytest.mark.parametrize("chunk", ["text", 42, None])
    async def test_chunks_that_are_not_bytes_are_invalid(self, payloads: PayloadStore, chunk: object) -> None:
        with pytest.raises(InvalidInputError):
            await payloads.put_stream(TENANT, [b"ok", chunk])  # type: ignore[list-item]
        assert await scan_all(payloads) == []

    # -- content addressing and tenants -------------------------------------

    async def test_same_bytes_twice_are_stored_once(self, payloads: PayloadStore) -> None:
        data = blob(3000, seed=3)
        first = await payloads.put_bytes(TENANT, data)
        second = await payloads.put_stream(TENANT, [data[:1000], data[1000:]])
        assert identity(second) == identity(first)  # the stored copy is kept, not rewritten
        assert [identity(p) for p in await scan_all(payloads)] == [identity(first)]

    async def test_concurrent_writes_of_the_same_bytes(self, payloads: PayloadStore) -> None:
        data = blob(100_000, seed=4)
        results = await asyncio.gather(*(payloads.put_bytes(TENANT, data) for _ in range(5)))
        assert {r.sha256 for r in results} == {sha(data)}
        assert [s.sha256 for s in await scan_all(payloads)] == [sha(data)]
        assert await payloads.get_bytes(TENANT, sha(data)) == data

    async def test_same_bytes_in_two_tenants_are_two_copies(self, payloads: PayloadStore) -> None:
        data = b"shared by coincidence"
        mine = await payloads.put_bytes(TENANT, data)
        theirs = await payloads.put_bytes(OTHER, data)
        assert mine.key != theirs.key
        assert await payloads.delete(TENANT, mine.sha256)
        assert await payloads.get_bytes(OTHER, theirs.sha256) == data

    async def test_other_tenant_cannot_see_a_payload(self, payloads: PayloadStore) -> None:
        stored = await payloads.put_bytes(TENANT, b"secret")
        assert await payloads.stat(OTHER, stored.sha256) is None
        with pytest.raises(NotFoundError):
            await collect(payloads.open(OTHER, stored.sha256))
        with pytest.raises(NotFoundError):
            await payloads.get_bytes(OTHER, stored.sha256)
        assert await payloads.delete(OTHER, stored.sha256) is False
        assert await payloads.get_bytes(TENANT, stored.sha256) == b"secret"

    # -- limits and checks ----------------------------------------------------

    @pytest.mark.parametrize("source", ["list", "async generator", "one big chunk"])
    async def test_max_size_exceeded_stores_nothing(self, payloads: PayloadStore, source: str) -> None:
        data = blob(20_000, seed=5)
        with pytest.raises(InvalidInputError) as info:
            await payloads.put_stream(TENANT, SOURCES[source](data), max_size=len(data) - 1)  # type: ignore[arg-type]
        assert info.value.field == "payload"
        assert await payloads.stat(TENANT, sha(data)) is None
        assert await scan_all(payloads) == []

    async def test_put_bytes_honours_max_size(self, payloads: PayloadStore) -> None:
        with pytest.raises(InvalidInputError):
            await payloads.put_bytes(TENANT, b"12345", max_size=4)
        assert await scan_all(payloads) == []

    async def test_max_size_is_inclusive(self, payloads: PayloadStore) -> None:
        data = b"exactly ten"[:10]
        stored = await payloads.put_bytes(TENANT, data, max_size=10)
        assert stored.size_bytes == 10
        assert (await payloads.put_bytes(TENANT, b"", max_size=0)).size_bytes == 0

    # A source of 10 MB in 1 KB chunks: the store must stop pulling within
    # about one chunk size of max_size, not drain it (or a broken store would
    # fill the disk from an endless one).
    LONG_STREAM_CHUNKS = 10_000
    PULL_BOUND = (50_000 + CHUNK_SIZE) // 1000 + 1

    async def test_max_size_stops_reading_a_long_sync_stream(self, payloads: PayloadStore) -> None:
        pulled = 0

        def long_stream() -> Iterator[bytes]:
            nonlocal pulled
            for _ in range(self.LONG_STREAM_CHUNKS):
                pulled += 1
                yield b"x" * 1000

        with pytest.raises(InvalidInputError):
            await payloads.put_stream(TENANT, long_stream(), max_size=50_000)
        assert pulled <= self.PULL_BOUND
        assert await scan_all(payloads) == []

    async def test_max_size_stops_and_closes_a_long_async_stream(self, payloads: PayloadStore) -> None:
        pulled = 0
        closed = asyncio.Event()

        async def long_stream() -> AsyncIterator[bytes]:
            nonlocal pulled
            try:
                for _ in range(self.LONG_STREAM_CHUNKS):
                    pulled += 1
                    yield b"x" * 1000
            finally:
                closed.set()

        with pytest.raises(InvalidInputError):
            await payloads.put_stream(TENANT, long_stream(), max_size=50_000)
        assert pulled <= self.PULL_BOUND
        assert closed.is_set(), "the source should be closed when the store stops reading it"
        assert await scan_all(payloads) == []

    async def test_negative_max_size_is_invalid(self, payloads: PayloadStore) -> None:
        with pytest.raises(InvalidInputError):
            await payloads.put_bytes(TENANT, b"x", max_size=-1)

    async def test_expected_sha256_that_matches(self, payloads: PayloadStore) -> None:
        data = blob(10_000, seed=6)
        stored = await payloads.put_stream(TENANT, [data], expected_sha256=sha(data))
        assert stored.sha256 == sha(data)

    async def test_expected_sha256_mismatch_stores_nothing(self, payloads: PayloadStore) -> None:
        data = blob(10_000, seed=7)
        claimed = sha(b"something else")
        with pytest.raises(InvalidInputError):
            await payloads.put_stream(TENANT, agen(split(data, 999)), expected_sha256=claimed)
        assert await payloads.stat(TENANT, sha(data)) is None
        assert await payloads.stat(TENANT, claimed) is None
        assert await scan_all(payloads) == []

    @pytest.mark.parametrize("digest", ["abc", "A" * 64, "../" + "a" * 61])
    async def test_malformed_expected_sha256_is_invalid(self, payloads: PayloadStore, digest: str) -> None:
        with pytest.raises(InvalidInputError):
            await payloads.put_stream(TENANT, [b"x"], expected_sha256=digest)
        assert await scan_all(payloads) == []

    @pytest.mark.parametrize("tenant", BAD_TENANTS)
    async def test_invalid_tenant_is_rejected_everywhere(self, payloads: PayloadStore, tenant: str) -> None:
        digest = sha(b"x")
        with pytest.raises(InvalidInputError):
            await payloads.put_bytes(tenant, b"x")
        with pytest.raises(InvalidInputError):
            await payloads.put_stream(tenant, agen([b"x"]))
        with pytest.raises(InvalidInputError):
            await collect(payloads.open(tenant, digest))
        with pytest.raises(InvalidInputError):
            await payloads.stat(tenant, digest)
        with pytest.raises(InvalidInputError):
            await payloads.delete(tenant, digest)
        assert await scan_all(payloads) == []

    @pytest.mark.parametrize("digest", BAD_DIGESTS)
    async def test_invalid_digest_is_rejected_everywhere(self, payloads: PayloadStore, digest: str) -> None:
        with pytest.raises(InvalidInputError):
            await collect(payloads.open(TENANT, digest))
        with pytest.raises(InvalidInputError):
            await payloads.get_bytes(TENANT, digest)
        with pytest.raises(InvalidInputError):
            await payloads.stat(TENANT, digest)
        with pytest.raises(InvalidInputError):
            await payloads.delete(TENANT, digest)

    # -- failures while writing ---------------------------------------------

    @pytest.mark.parametrize("kind", ["sync", "async"])
    async def test_failing_source_propagates_and_stores_nothing(
        self, payloads: PayloadStore, kind: str
    ) -> None:
        boom = RuntimeError("source broke")
        part = blob(CHUNK_SIZE + 1, seed=8)  # big enough that some bytes were written

        def sync_source() -> Iterator[bytes]:
            yield part
            yield part
            raise boom

        async def async_source() -> AsyncIterator[bytes]:
            for chunk in sync_source():
                yield chunk

        source = sync_source() if kind == "sync" else async_source()
        with pytest.raises(RuntimeError) as info:
            await payloads.put_stream(TENANT, source)
        assert info.value is boom
        assert await scan_all(payloads) == []

    async def test_cancelled_write_stores_nothing(self, payloads: PayloadStore) -> None:
        started = asyncio.Event()
        part = blob(CHUNK_SIZE + 1, seed=9)

        async def stalled() -> AsyncIterator[bytes]:
            yield part
            yield part
            started.set()
            await asyncio.Event().wait()  # never set: the writer is cancelled here
            yield part  # pragma: no cover

        task = asyncio.create_task(payloads.put_stream(TENANT, stalled()))
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await scan_all(payloads) == []

    # -- open and ranges -----------------------------------------------------

    async def test_open_missing_raises_not_found(self, payloads: PayloadStore) -> None:
        digest = sha(b"never stored")
        with pytest.raises(NotFoundError) as info:
            await collect(payloads.open(TENANT, digest))
        assert (info.value.kind, info.value.ref) == ("payload", digest)
        with pytest.raises(NotFoundError):
            await payloads.get_bytes(TENANT, digest)
        with pytest.raises(NotFoundError):
            await collect(payloads.open(TENANT, digest, offset=1, length=2))
        assert await payloads.stat(TENANT, digest) is None

    @pytest.mark.parametrize(
        ("offset", "length", "expected"),
        [
            (0, None, slice(0, None)),
            (10, None, slice(10, None)),
            (10, 5, slice(10, 15)),
            (0, 0, slice(0, 0)),
            (0, 1, slice(0, 1)),
            (97, 10, slice(97, 100)),  # a length past the end stops at the end
            (99, None, slice(99, 100)),
            (100, None, slice(100, 100)),  # offset == size: empty, not an error
            (100, 5, slice(100, 100)),
        ],
    )
    async def test_byte_ranges(
        self, payloads: PayloadStore, offset: int, length: int | None, expected: slice
    ) -> None:
        data = blob(100, seed=10)
        stored = await payloads.put_bytes(TENANT, data)
        chunks = await collect(payloads.open(TENANT, stored.sha256, offset=offset, length=length))
        assert b"".join(chunks) == data[expected]

    async def test_byte_range_across_chunk_boundaries(self, payloads: PayloadStore) -> None:
        data = blob(BIG, seed=11)
        stored = await payloads.put_bytes(TENANT, data)
        offset, length = CHUNK_SIZE - 10, CHUNK_SIZE + 20
        got = b"".join(await collect(payloads.open(TENANT, stored.sha256, offset=offset, length=length)))
        assert got == data[offset : offset + length]
        tail = b"".join(await collect(payloads.open(TENANT, stored.sha256, offset=CHUNK_SIZE + 1)))
        assert tail == data[CHUNK_SIZE + 1 :]

    @pytest.mark.parametrize(("offset", "length"), [(-1, None), (0, -1), (-5, 3), (101, None), (101, 0)])
    async def test_invalid_byte_ranges(self, payloads: PayloadStore, offset: int, length: int | None) -> None:
        stored = await payloads.put_bytes(TENANT, blob(100, seed=12))
        with pytest.raises(InvalidInputError):
            await collect(payloads.open(TENANT, stored.sha256, offset=offset, length=length))

    async def test_reader_may_stop_early(self, payloads: PayloadStore) -> None:
        data = blob(BIG, seed=13)
        stored = await payloads.put_bytes(TENANT, data)
        chunks = payloads.open(TENANT, stored.sha256)
        first = await anext(chunks)
        aclose = getattr(chunks, "aclose", None)  # async generators hold their file until closed
        if aclose is not None:
            await aclose()
        assert data.startswith(first)
        assert await payloads.delete(TENANT, stored.sha256)

    # -- delete and scan -----------------------------------------------------

    async def test_delete_is_idempotent(self, payloads: PayloadStore) -> None:
        stored = await payloads.put_bytes(TENANT, b"delete me")
        assert await payloads.delete(TENANT, stored.sha256) is True
        assert await payloads.delete(TENANT, stored.sha256) is False
        assert await payloads.stat(TENANT, stored.sha256) is None
        with pytest.raises(NotFoundError):
            await payloads.get_bytes(TENANT, stored.sha256)
        assert await scan_all(payloads) == []

    async def test_put_after_delete_stores_again(self, payloads: PayloadStore) -> None:
        stored = await payloads.put_bytes(TENANT, b"back again")
        await payloads.delete(TENANT, stored.sha256)
        again = await payloads.put_bytes(TENANT, b"back again")
        assert again.sha256 == stored.sha256
        assert await payloads.get_bytes(TENANT, again.sha256) == b"back again"

    async def test_scan_of_an_empty_store(self, payloads: PayloadStore) -> None:
        assert await scan_all(payloads) == []

    async def test_scan_lists_exactly_what_is_stored(self, payloads: PayloadStore) -> None:
        written = [
            await payloads.put_bytes(TENANT, b"one"),
            await payloads.put_bytes(TENANT, b"two"),
            await payloads.put_bytes(OTHER, b"one"),
            await payloads.put_bytes(OTHER, b""),
        ]
        gone = await payloads.put_bytes(TENANT, b"deleted")
        await payloads.delete(TENANT, gone.sha256)
        scanned = await scan_all(payloads)
        assert len(scanned) == len(written)
        assert {(s.tenant_id, s.sha256, s.size_bytes, s.key) for s in scanned} == {
            (w.tenant_id, w.sha256, w.size_bytes, w.key) for w in written
        }
        for item in scanned:
            assert await payloads.stat(item.tenant_id, item.sha256) == item

    async def test_scan_while_deleting(self, payloads: PayloadStore) -> None:
        for i in range(20):
            await payloads.put_bytes(TENANT if i % 2 else OTHER, f"payload {i}".encode())
        seen = 0
        async for item in payloads.scan():  # the garbage collector's loop
            assert await payloads.delete(item.tenant_id, item.sha256)
            seen += 1
        assert seen == 20
        assert await scan_all(payloads) == []

    async def test_ping(self, payloads: PayloadStore) -> None:
        await payloads.ping()

    # -------------------------------------------------- garbage collection's delete

    async def test_delete_if_stale_spares_fresh_payloads(self, payloads: PayloadStore) -> None:
        stored = await payloads.put_bytes(TENANT, b"fresh")
        assert not await payloads.delete_if_stale(
            TENANT, stored.sha256, stored.modified_at - timedelta(seconds=1)
        )
        assert await payloads.get_bytes(TENANT, stored.sha256) == b"fresh"

    async def test_delete_if_stale_removes_old_payloads(self, payloads: PayloadStore) -> None:
        stored = await payloads.put_bytes(TENANT, b"old")
        later = datetime.now(UTC) + timedelta(seconds=5)
        assert await payloads.delete_if_stale(TENANT, stored.sha256, later)
        assert await payloads.stat(TENANT, stored.sha256) is None
        assert not await payloads.delete_if_stale(TENANT, stored.sha256, later)

    async def test_storing_a_digest_again_refreshes_it(self, payloads: PayloadStore) -> None:
        first = await payloads.put_bytes(TENANT, b"again")
        # File clocks tick coarsely (a jiffy): store again until the time moves, with a deadline.
        deadline = time.monotonic() + 5
        second = await payloads.put_bytes(TENANT, b"again")
        while second.modified_at <= first.modified_at:
            assert time.monotonic() < deadline, "storing the digest again never refreshed its time"
            second = await payloads.put_bytes(TENANT, b"again")
        # A cutoff between the two writes: only the refresh keeps the payload alive.
        between = first.modified_at + (second.modified_at - first.modified_at) / 2
        assert not await payloads.delete_if_stale(TENANT, first.sha256, between)
        assert await payloads.get_bytes(TENANT, first.sha256) == b"again"
