"""The payload store contract over every adapter, and what only the local directory can show."""

from __future__ import annotations

import asyncio
import hashlib
import os
import stat
import sys
import textwrap
import tracemalloc
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import pytest

from artifact_plane.adapters.local import LocalPayloadStore
from artifact_plane.adapters.memory.payloads import MemoryPayloadStore
from artifact_plane.errors import BackendUnavailableError, InvalidInputError
from artifact_plane.ids import payload_key
from artifact_plane.ports.payloads import CHUNK_SIZE, PayloadStore
from tests.contracts.payloads_contract import TENANT, PayloadStoreContract, agen, blob, scan_all, sha

PLATFORM_DIR = Path(__file__).resolve().parent.parent / "platform"


class TestMemoryPayloadStore(PayloadStoreContract):
    @pytest.fixture
    async def payloads(self) -> AsyncIterator[PayloadStore]:
        store = MemoryPayloadStore()
        yield store
        await store.close()


def files_under(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*") if p.is_file())


def everything_under(path: Path, root: Path) -> list[tuple[Path, bool, int]]:
    """Every file and directory below ``path``: whether it lies inside ``root``, its mode bits."""
    inside = root.resolve()
    return [
        (p, p.resolve().is_relative_to(inside), stat.S_IMODE(p.stat().st_mode))
        for p in sorted(path.rglob("*"))
    ]


class TestLocalPayloadStore(PayloadStoreContract):
    @pytest.fixture
    def root(self, tmp_path: Path) -> Path:
        return tmp_path / "payloads"

    @pytest.fixture
    async def payloads(self, root: Path) -> AsyncIterator[PayloadStore]:
        store = LocalPayloadStore(root)
        yield store
        await store.close()
        # Whatever a test did, no write may leave a temp file behind.
        assert not (root / "tmp").exists() or files_under(root / "tmp") == []

    async def test_layout_on_disk(self, payloads: PayloadStore, root: Path) -> None:
        data = b"where does it go"
        stored = await payloads.put_bytes(TENANT, data)
        digest = sha(data)
        path = root / "tenants" / TENANT / "sha256" / digest[:2] / digest[2:4] / digest
        assert path.read_bytes() == data
        assert root / stored.key == path
        assert files_under(root) == [path]

    @pytest.mark.parametrize("kind", ["sync", "async"])
    async def test_failing_stream_leaves_no_file_at_all(
        self, payloads: PayloadStore, root: Path, kind: str
    ) -> None:
        part = blob(CHUNK_SIZE + 1)
        seen = asyncio.Event()

        def sync_source() -> Iterator[bytes]:
            yield part
            yield part
            # The first batch has reached the temp file by now.
            assert files_under(root / "tmp"), "expected a temp file while writing"
            seen.set()
            raise OSError("disk of the caller's source failed")

        async def async_source() -> AsyncIterator[bytes]:
            for chunk in sync_source():
                yield chunk

        source = sync_source() if kind == "sync" else async_source()
        # The source's own OSError is the caller's problem: not translated into ours.
        with pytest.raises(OSError, match="caller's source") as info:
            await payloads.put_stream(TENANT, source)
        assert not isinstance(info.value, BackendUnavailableError)
        assert seen.is_set()
        assert files_under(root) == []

    async def test_rejected_writes_leave_no_temp_file(self, payloads: PayloadStore, root: Path) -> None:
        data = blob(3 * CHUNK_SIZE)
        with pytest.raises(InvalidInputError):
            await payloads.put_stream(TENANT, agen([data[:CHUNK_SIZE]] * 3), max_size=2 * CHUNK_SIZE)
        with pytest.raises(InvalidInputError):
            await payloads.put_stream(TENANT, [data], expected_sha256=sha(b"other"))
        assert files_under(root) == []

    async def test_cancelled_write_leaves_no_temp_file(self, payloads: PayloadStore, root: Path) -> None:
        started = asyncio.Event()

        async def stalled() -> AsyncIterator[bytes]:
            # Two full batches: the store writes the first once it knows it is not the last.
            yield blob(CHUNK_SIZE + 1)
            yield blob(CHUNK_SIZE + 1)
            yield b"more"
            started.set()
            await asyncio.Event().wait()
            yield b"never"  # pragma: no cover

        task = asyncio.create_task(payloads.put_stream(TENANT, stalled()))
        await started.wait()
        assert files_under(root / "tmp"), "expected a temp file while writing"
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert files_under(root) == []

    async def test_paths_never_escape_root_and_files_are_private(self, tmp_path: Path, root: Path) -> None:
        store = LocalPayloadStore(root)
        for tenant in ["..", "../escape", "/tmp", "a/../../b", "t\u0435nant"]:
            with pytest.raises(InvalidInputError):
                await store.put_bytes(tenant, b"x")
        for digest in ["../" * 20 + "etc", "/" + "a" * 63]:
            with pytest.raises(InvalidInputError):
                await store.stat(TENANT, digest)
        assert everything_under(tmp_path, root) == [], "nothing may be touched before validation"

        await store.put_bytes(TENANT, b"private")
        await store.put_bytes("other", b"private")
        created = everything_under(tmp_path, root)
        assert len(created) > 1
        for path, inside, mode in created:
            assert inside, f"{path} is outside {root}"
            assert mode & 0o077 == 0, f"{path} is open to others: {oct(mode)}"

    async def test_data_survives_a_new_store_on_the_same_root(self, root: Path) -> None:
        first = LocalPayloadStore(root)
        big = blob(CHUNK_SIZE + 7)
        written = [await first.put_bytes(TENANT, big), await first.put_bytes("other", b"small")]
        await first.close()

        second = LocalPayloadStore(root)
        assert await second.get_bytes(TENANT, sha(big)) == big
        assert await second.get_bytes("other", sha(b"small")) == b"small"
        assert [await second.stat(w.tenant_id, w.sha256) for w in written] == written
        assert sorted(await scan_all(second), key=lambda s: s.key) == sorted(written, key=lambda s: s.key)

    async def test_a_damaged_copy_is_repaired_by_writing_again(
        self, payloads: PayloadStore, root: Path
    ) -> None:
        data = blob(10_000)
        stored = await payloads.put_bytes(TENANT, data)
        (root / stored.key).write_bytes(data[:5000])
        assert (await payloads.put_bytes(TENANT, data)).size_bytes == len(data)
        assert await payloads.get_bytes(TENANT, stored.sha256) == data

    async def test_scan_ignores_temp_and_stray_files(self, payloads: PayloadStore, root: Path) -> None:
        stored = await payloads.put_bytes(TENANT, b"real")
        digest = sha(b"stray")
        strays = [
            root / "tmp" / "abc.tmp",
            root / "tenants" / TENANT / "sha256" / "zz" / "notes.txt",
            root / "tenants" / TENANT / "sha256" / "00" / "00" / digest,  # wrong shard for its name
            root / "tenants" / "not.an.id" / "sha256" / digest[:2] / digest[2:4] / digest,
            root / "tenants" / TENANT / "sha256" / digest[:2] / digest[2:4] / (digest + ".bak"),
        ]
        for path in strays:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"stray")
        assert await scan_all(payloads) == [stored]
        (root / "tmp" / "abc.tmp").unlink()

    async def test_clean_temp_removes_stale_temp_files_only(self, payloads: PayloadStore, root: Path) -> None:
        assert isinstance(payloads, LocalPayloadStore)
        now = datetime.now(UTC)
        assert await payloads.clean_temp(now) == 0  # no tmp/ directory yet
        stored = await payloads.put_bytes(TENANT, b"keep me")
        stale, fresh = root / "tmp" / "stale.tmp", root / "tmp" / "fresh.tmp"
        stale.write_bytes(b"left by a crashed writer")
        fresh.write_bytes(b"a writer still at work")
        two_hours_ago = (now - timedelta(hours=2)).timestamp()
        os.utime(stale, (two_hours_ago, two_hours_ago))

        assert await payloads.clean_temp(now - timedelta(hours=1)) == 1
        assert not stale.exists()
        assert fresh.exists()
        assert await payloads.get_bytes(TENANT, stored.sha256) == b"keep me"
        fresh.unlink()

    async def test_clean_temp_needs_an_aware_cutoff(self, payloads: PayloadStore) -> None:
        assert isinstance(payloads, LocalPayloadStore)
        with pytest.raises(InvalidInputError):
            await payloads.clean_temp(datetime.now())  # naive on purpose

    async def test_a_crashed_writer_leaves_only_a_temp_file_for_gc(self, root: Path) -> None:
        script = textwrap.dedent(
            """
            import asyncio, os, sys
            from artifact_plane.adapters.local import LocalPayloadStore

            async def source():
                for _ in range(4):
                    yield b"x" * 4096
                os._exit(3)  # the process dies mid-stream, as under kill -9

            asyncio.run(LocalPayloadStore(sys.argv[1], chunk_size=1024).put_stream("acme", source()))
            """
        )
        env = {**os.environ, "PYTHONPATH": str(PLATFORM_DIR)}
        result = await anyio.run_process([sys.executable, "-c", script, str(root)], check=False, env=env)
        assert result.returncode == 3, result.stderr.decode()

        leftovers = files_under(root)
        assert len(leftovers) == 1
        assert leftovers[0].parent == root / "tmp"
        assert 0 < leftovers[0].stat().st_size <= 4 * 4096  # the tail may still have been in a buffer
        store = LocalPayloadStore(root)
        assert await scan_all(store) == []
        assert await store.clean_temp(datetime.now(UTC) - timedelta(hours=1)) == 0
        assert await store.clean_temp(datetime.now(UTC) + timedelta(minutes=1)) == 1
        assert files_under(root) == []

    async def test_unreachable_root_is_backend_unavailable(self, tmp_path: Path) -> None:
        not_a_dir = tmp_path / "file"
        not_a_dir.write_bytes(b"")
        store = LocalPayloadStore(not_a_dir)
        digest = sha(b"x")
        calls: list[Callable[[], Any]] = [
            store.ping,
            lambda: store.put_bytes(TENANT, b"x"),
            lambda: store.get_bytes(TENANT, digest),
            lambda: store.stat(TENANT, digest),
            lambda: store.delete(TENANT, digest),
            lambda: scan_all(store),
            lambda: store.clean_temp(datetime.now(UTC)),
        ]
        for call in calls:
            with pytest.raises(BackendUnavailableError) as info:
                await call()
            assert isinstance(info.value.__cause__, OSError)
            assert info.value.backend == "payloads"

    @pytest.mark.parametrize("kind", ["sync", "async"])
    async def test_max_size_stops_at_the_first_chunk_past_it(self, payloads: PayloadStore, kind: str) -> None:
        pulled = 0

        def long_stream() -> Iterator[bytes]:
            nonlocal pulled
            for _ in range(10_000):
                pulled += 1
                yield b"x" * 1000

        source = long_stream() if kind == "sync" else agen(long_stream())
        with pytest.raises(InvalidInputError):
            await payloads.put_stream(TENANT, source, max_size=50_000)
        assert pulled == 51

    async def test_small_chunk_size_bounds_every_chunk(self, root: Path) -> None:
        store = LocalPayloadStore(root, chunk_size=1000)
        data = blob(10_500)
        stored = await store.put_bytes(TENANT, data)
        chunks = [c async for c in store.open(TENANT, stored.sha256, offset=250, length=5000)]
        assert all(len(c) <= 1000 for c in chunks)
        assert b"".join(chunks) == data[250:5250]

    @pytest.mark.parametrize("kind", ["sync", "async"])
    async def test_many_small_chunks_take_few_thread_hops(
        self, payloads: PayloadStore, monkeypatch: pytest.MonkeyPatch, kind: str
    ) -> None:
        hops = 0
        run_sync = anyio.to_thread.run_sync

        async def counting(*args: Any, **kwargs: Any) -> Any:
            nonlocal hops
            hops += 1
            return await run_sync(*args, **kwargs)

        monkeypatch.setattr(anyio.to_thread, "run_sync", counting)
        parts = [blob(1024, seed=i) for i in range(1024)]  # 1 MiB in 1 KiB chunks
        source = parts if kind == "sync" else agen(parts)
        stored = await payloads.put_stream(TENANT, source)
        assert stored.size_bytes == CHUNK_SIZE
        assert hops <= 8, f"{hops} worker-thread hops for 1024 chunks"

    async def test_streaming_64_mib_keeps_memory_bounded(self, root: Path) -> None:
        store = LocalPayloadStore(root)
        total = 64 * CHUNK_SIZE
        expected = hashlib.sha256()

        async def source() -> AsyncIterator[bytes]:
            for _ in range(total // CHUNK_SIZE):
                chunk = os.urandom(CHUNK_SIZE)  # fresh bytes each time, as from a socket
                expected.update(chunk)
                yield chunk

        tracemalloc.start()
        try:
            stored = await store.put_stream(TENANT, source())
            _, write_peak = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
            got = hashlib.sha256()
            read = 0
            async for chunk in store.open(TENANT, stored.sha256):
                got.update(chunk)
                read += len(chunk)
            _, read_peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert stored.size_bytes == read == total
        assert stored.sha256 == got.hexdigest() == expected.hexdigest()
        assert (root / payload_key(TENANT, stored.sha256)).stat().st_size == total
        limit = 8 * CHUNK_SIZE  # an eighth of the payload
        assert write_peak < limit, f"put_stream peaked at {write_peak / CHUNK_SIZE:.1f} MiB"
        assert read_peak < limit, f"open peaked at {read_peak / CHUNK_SIZE:.1f} MiB"
