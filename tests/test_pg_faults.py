"""PostgreSQL restarted under a running plane: errors are ours, nothing acknowledged is lost.

Each test gets a dedicated cluster (same binaries and runuser mechanism as
``tests/pg.py``) so stopping it never disturbs the shared session server.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import anyio
import anyio.to_thread
import pytest
from bench.postgres import find_binary, user_exists

from artifact_plane.errors import BackendUnavailableError
from artifact_plane.plane import ArtifactPlane
from artifact_plane.scoped import ScopedPlane
from artifact_plane.wiring import build_plane
from tests.conftest import require_server
from tests.pg import NEEDS_DRIVER
from tests.plane_fixtures import ALICE, settings_for
from tests.waiting import wait_for

CALL_LIMIT = 10.0  # seconds any single plane call may take, up or down
SERVER_LIMIT = 60.0  # seconds pg_ctl may take to stop or start

RETRY_BACKOFF = 0.01  # a client's back-off after a failed write, so an outage is no busy loop


@asynccontextmanager
async def bounded(limit: float = CALL_LIMIT) -> AsyncIterator[None]:
    """``anyio.fail_after``, plus a check of the time taken.

    A cancel scope cannot interrupt a worker thread (``SqlDatabase.run``), so a
    slow driver call would finish late without a ``TimeoutError``: measure it too.
    """
    started = time.monotonic()
    with anyio.fail_after(limit):
        yield
    elapsed = time.monotonic() - started
    assert elapsed < limit, f"took {elapsed:.1f}s (limit {limit:.0f}s)"


@dataclass
class Cluster:
    """A throw-away PostgreSQL cluster this test may stop and start."""

    data: Path
    port: int
    pg_ctl: str
    as_user: list[str]

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _pg_ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [*self.as_user, self.pg_ctl, "-D", str(self.data / "db"), *args]
        return subprocess.run(command, check=check, capture_output=True, text=True, timeout=SERVER_LIMIT)

    def running(self) -> bool:
        # pg_ctl status: 0 running, 3 not running.
        return self._pg_ctl("status", check=False).returncode == 0

    def answers(self) -> bool:
        import psycopg

        try:
            with psycopg.connect(self.url, connect_timeout=2) as conn:
                conn.execute("SELECT 1")
        except psycopg.OperationalError:
            return False
        return True

    def start(self) -> None:
        options = f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._pg_ctl("-o", options, "-l", str(self.data / "log"), "-w", "start")
        wait_for(self.answers, "the restarted server to accept connections", SERVER_LIMIT)

    def stop(self, mode: str = "fast") -> None:
        self._pg_ctl("-m", mode, "-w", "stop")
        wait_for(lambda: not self.running(), "the server to stop", SERVER_LIMIT)
        assert not self.answers()

    def log(self) -> str:
        path = self.data / "log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    """A dedicated cluster, running; removed after the test (whatever state it was left in)."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        require_server("PostgreSQL", NEEDS_DRIVER)
    binaries = {name: find_binary(name) for name in ("initdb", "pg_ctl")}
    if None in binaries.values():
        # An external AP_TEST_POSTGRES_URL server cannot be restarted from here.
        require_server("PostgreSQL", "restart tests need initdb/pg_ctl on PATH")
    owner = "postgres" if user_exists("postgres") else "nobody"
    as_user = ["runuser", "-u", owner, "--"] if os.geteuid() == 0 else []
    data = Path(tempfile.mkdtemp(prefix="ap-pg-faults-"))
    if as_user:
        shutil.chown(data, owner)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    subprocess.run(
        [*as_user, str(binaries["initdb"]), "-D", str(data / "db"), "-U", "postgres", "-A", "trust"],
        check=True,
        capture_output=True,
        timeout=SERVER_LIMIT,
    )
    server = Cluster(data=data, port=port, pg_ctl=str(binaries["pg_ctl"]), as_user=as_user)
    server.start()
    try:
        yield server
    finally:
        server._pg_ctl("-m", "immediate", "stop", check=False)
        shutil.rmtree(data, ignore_errors=True)


@pytest.fixture
async def plane(cluster: Cluster, tmp_path: Path) -> AsyncIterator[ArtifactPlane]:
    built = build_plane(settings_for(tmp_path, registry_url=cluster.url))
    await built.registry.initialize()
    try:
        yield built
    finally:
        await built.close()


async def stop(cluster: Cluster, mode: str = "fast") -> None:
    await anyio.to_thread.run_sync(cluster.stop, mode)


async def start(cluster: Cluster) -> None:
    await anyio.to_thread.run_sync(cluster.start)


async def create(me: ScopedPlane, n: int) -> str:
    async with bounded():
        return await me.create_artifact(payload(n), artifact_type="blob", metadata={"n": n})


def payload(n: int) -> bytes:
    return f"artifact {n} ".encode() * 40


async def assert_unavailable(call: Callable[[], Awaitable[object]]) -> BackendUnavailableError:
    """``call()`` fails fast with our error, not a driver exception or a hang."""
    with pytest.raises(BackendUnavailableError) as caught:
        async with bounded():
            await call()
    assert type(caught.value) is BackendUnavailableError
    return caught.value


async def listed_ids(me: ScopedPlane) -> list[str]:
    async with bounded():
        page = await me.list_artifacts(limit=1000)
    assert page.next_cursor is None
    return [record.artifact_id for record in page.items]


async def test_outage_raises_backend_unavailable_and_the_same_plane_recovers(
    cluster: Cluster, plane: ArtifactPlane
) -> None:
    me = plane.for_subject(ALICE)
    before = await create(me, 0)
    # Several pooled connections, all of which the restart will kill.
    async with anyio.create_task_group() as tg:
        for n in range(1, 5):
            tg.start_soon(create, me, n)

    await stop(cluster)
    for _ in range(3):  # each retry still fails fast, none hangs on a dead pooled connection
        await assert_unavailable(lambda: me.get_meta(before))
        error = await assert_unavailable(lambda: me.create_artifact(payload(99), artifact_type="blob"))
    assert error.__cause__ is not None  # raised `from` the driver's error, not in place of it
    await assert_unavailable(lambda: me.list_artifacts())
    async with bounded():
        health = await plane.health()
    assert health["registry"].startswith("BackendUnavailableError"), health
    assert health["payloads"] == "ok"  # the outage is reported where it is

    await start(cluster)
    async with bounded():
        assert (await me.get_meta(before)).artifact_id == before
    after = await create(me, 100)
    async with bounded():
        assert (await me.get_artifact(after, include_payload=True)).payload == payload(100)
        assert (await plane.health())["registry"] == "ok"
    # 0..4 and 100: the create refused during the outage left no record.
    assert len(await listed_ids(me)) == 6, cluster.log()


async def test_first_call_after_an_idle_restart_succeeds(cluster: Cluster, plane: ArtifactPlane) -> None:
    """No call during the outage emptied the pool: its dead connections are found by pre-ping."""
    me = plane.for_subject(ALICE)
    async with anyio.create_task_group() as tg:
        for n in range(5):
            tg.start_soon(create, me, n)
    await stop(cluster)
    await start(cluster)
    for art_id in await listed_ids(me):
        async with bounded():
            assert (await me.get_meta(art_id)).artifact_id == art_id
    await create(me, 5)
    assert len(await listed_ids(me)) == 6


@pytest.mark.parametrize("mode", ["fast", "immediate"])
async def test_no_acknowledged_write_is_lost_across_a_restart(
    cluster: Cluster, plane: ArtifactPlane, mode: str
) -> None:
    me = plane.for_subject(ALICE)
    acknowledged = {await create(me, n): n for n in range(20)}
    assert len(acknowledged) == 20

    await stop(cluster, mode)
    for n in range(100, 105):  # attempted while down: they raise and must leave nothing behind
        await assert_unavailable(partial(me.create_artifact, payload(n), artifact_type="blob"))
    await start(cluster)

    for art_id, n in acknowledged.items():
        async with bounded():
            artifact = await me.get_artifact(art_id, include_payload=True)
        assert artifact.payload == payload(n)
        assert artifact.metadata == {"n": n}
    assert sorted(await listed_ids(me)) == sorted(acknowledged), cluster.log()


async def test_writer_running_through_a_restart_loses_nothing_acknowledged(
    cluster: Cluster, plane: ArtifactPlane
) -> None:
    me = plane.for_subject(ALICE)
    acknowledged: dict[str, int] = {}
    failed: set[int] = set()
    writing, outage_seen, restarted = anyio.Event(), anyio.Event(), anyio.Event()

    async def writer(first: int) -> None:
        n, after_restart = first, 0
        while after_restart < 10:
            try:
                acknowledged[await create(me, n)] = n
                after_restart += restarted.is_set()
                if len(acknowledged) >= 30:
                    writing.set()
            except BackendUnavailableError:
                failed.add(n)
                if len(failed) >= 3:
                    outage_seen.set()
                await anyio.sleep(RETRY_BACKOFF)
            n += 1

    async with anyio.create_task_group() as tg:
        for first in (0, 100_000, 200_000):
            tg.start_soon(writer, first)
        with anyio.fail_after(SERVER_LIMIT):
            await writing.wait()
        await stop(cluster)
        with anyio.fail_after(SERVER_LIMIT):
            await outage_seen.wait()
        await start(cluster)
        restarted.set()

    for art_id, n in acknowledged.items():
        async with bounded():
            artifact = await me.get_artifact(art_id, include_payload=True)
        assert artifact.payload == payload(n)
    records: dict[str, int] = {}
    for art_id in await listed_ids(me):
        async with bounded():
            records[art_id] = (await me.get_meta(art_id)).metadata["n"]
    assert set(acknowledged) <= set(records)
    # Only a write in flight as the server went down may be committed yet unacknowledged.
    unacknowledged = {n for art_id, n in records.items() if art_id not in acknowledged}
    assert unacknowledged <= failed, cluster.log()
