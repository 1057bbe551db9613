"""The lineage outbox and its relay: edges written with their record, delivered in order, never lost.

The registry is the real SQL registry (SQLite, and PostgreSQL where it runs);
the graph store is the memory lineage store, or a second SQLite database
holding the SQL lineage store (so it outlives a relay process killed with
SIGKILL). Every check compares the graph the relay built with a reference
graph that received the same operations directly, in the same order.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from artifact_plane.adapters.memory import MemoryLineageStore
from artifact_plane.adapters.sql import SqlDatabase, SqlLineageStore, SqlRegistry
from artifact_plane.adapters.sql.outbox import OutboxLineageStore, SqlOutbox
from artifact_plane.adapters.sql.tables import lineage_edges, lineage_outbox
from artifact_plane.errors import BackendUnavailableError, ConflictError
from artifact_plane.models import LineageEdge
from artifact_plane.ports.lineage import Direction, LineageStore
from artifact_plane.ports.outbox import OutboxOp
from artifact_plane.relay import OutboxRelay, delivery_units
from tests.contracts.builders import consumed, make_record, produced, ts
from tests.waiting import eventually, wait_for

REPO = Path(__file__).resolve().parent.parent
DEADLINE = 30.0  # seconds a test waits for a condition before failing


def _count(database: SqlDatabase, table: Any, *where: Any) -> int:
    from sqlalchemy import func, select

    stmt = select(func.count()).select_from(table).where(*where)
    return int(database.transact(lambda conn: conn.execute(stmt).scalar_one(), write=False))


@pytest.fixture(params=["sqlite", "postgresql"])
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SqlDatabase]:
    if request.param == "postgresql":
        url = str(request.getfixturevalue("postgres_url"))
    else:
        url = f"sqlite:///{tmp_path / 'registry.db'}"
    database = SqlDatabase(url)
    await database.initialize()
    yield database
    await database.dispose()


# -- what the relay builds, compared with the reference ------------------------


async def snapshot(
    store: LineageStore, nodes: Sequence[str], instants: Sequence[datetime | None]
) -> list[Any]:
    """Every edge row visible from ``nodes`` at each instant (history included via as_of)."""
    seen = []
    for instant in instants:
        edges = await store.neighbors("t1", nodes, Direction.DOWNSTREAM, as_of=instant)
        seen.append(sorted((e.key, e.created_at, e.closed_at) for e in edges))
    return seen


def chain(n: int, *, start: int = 0) -> list[tuple[Any, list[LineageEdge]]]:
    """Records a{i}, each produced by e{i} from a{i-1}: a lineage chain of ``n`` links."""
    items = []
    for i in range(start, start + n):
        edges = [produced(f"e{i}", f"a{i}", at=ts(i))]
        if i > 0:
            edges.append(consumed(f"a{i - 1}", f"e{i}", at=ts(i)))
        items.append((make_record(artifact_id=f"a{i}", created_at=ts(i)), edges))
    return items


NODES = [f"a{i}" for i in range(40)] + [f"e{i}" for i in range(40)]
INSTANTS = [None, ts(5), ts(25), ts(35), ts(100)]


async def write_scenario(registry: SqlRegistry, lineage: LineageStore) -> None:
    """Inserts with edges, a delete (close), and re-added edges on the deleted node."""
    await registry.insert_artifacts(chain(30))
    await registry.delete_artifacts("t1", ["a10"], ts(31))
    await lineage.add_edges([produced("e10", "a10", at=ts(32)), consumed("a10", "e11", at=ts(32))])
    await registry.insert_artifacts(chain(5, start=30))


async def reference() -> MemoryLineageStore:
    """The same operations applied straight to a memory store, in the same order."""
    store = MemoryLineageStore()
    await store.add_edges([edge for _, edges in chain(30) for edge in edges])
    await store.close_edges("t1", ["a10"], ts(31))
    await store.add_edges([produced("e10", "a10", at=ts(32)), consumed("a10", "e11", at=ts(32))])
    await store.add_edges([edge for _, edges in chain(5, start=30) for edge in edges])
    return store


def outboxed(database: SqlDatabase, graph: LineageStore) -> tuple[SqlRegistry, OutboxLineageStore]:
    return SqlRegistry(database, outbox=True), OutboxLineageStore(SqlOutbox(database), graph)


# -- the write side ------------------------------------------------------------


async def test_edges_go_to_the_outbox_in_the_records_transaction(database: SqlDatabase) -> None:
    registry, _ = outboxed(database, MemoryLineageStore())
    await registry.insert_artifacts(chain(3))
    assert _count(database, lineage_edges) == 0
    assert _count(database, lineage_outbox) == 5  # 3 produced + 2 consumed
    await registry.delete_artifacts("t1", ["a1"], ts(10))
    entries = await SqlOutbox(database).pending(100)
    assert [entry.op for entry in entries] == [OutboxOp.ADD] * 5 + [OutboxOp.CLOSE]
    assert entries[-1].node_ids == ("a1",)
    assert entries[-1].at == ts(10)
    assert [entry.entry_id for entry in entries] == sorted(entry.entry_id for entry in entries)


async def test_a_refused_record_queues_no_edges(database: SqlDatabase) -> None:
    registry, _ = outboxed(database, MemoryLineageStore())
    await registry.insert_artifacts(chain(1))
    with pytest.raises(ConflictError):
        await registry.insert_artifact(make_record(artifact_id="a0"), [produced("e9", "a0", at=ts(9))])
    assert _count(database, lineage_outbox) == 1


# -- the relay -----------------------------------------------------------------


async def test_the_relay_delivers_everything_in_order(database: SqlDatabase) -> None:
    graph = MemoryLineageStore()
    registry, lineage = outboxed(database, graph)
    await write_scenario(registry, lineage)
    relay = OutboxRelay(SqlOutbox(database), graph, batch_size=7)
    assert await relay.drain() == _count(database, lineage_outbox)
    assert await SqlOutbox(database).backlog() == 0
    assert await snapshot(graph, NODES, INSTANTS) == await snapshot(await reference(), NODES, INSTANTS)
    assert await relay.drain() == 0  # nothing delivered twice


async def test_reads_go_to_the_graph_once_relayed(database: SqlDatabase) -> None:
    graph = MemoryLineageStore()
    registry, lineage = outboxed(database, graph)
    await registry.insert_artifacts(chain(3))
    assert (await lineage.traverse("t1", "a0", Direction.DOWNSTREAM, depth=5, max_nodes=100)).edges == ()
    await OutboxRelay(SqlOutbox(database), graph).drain()
    graph_answer = await lineage.traverse("t1", "a0", Direction.DOWNSTREAM, depth=5, max_nodes=100)
    assert {n.id for n in graph_answer.nodes} == {"a0", "e1", "a1", "e2", "a2"}


async def test_units_split_adds_from_closes_in_order(database: SqlDatabase) -> None:
    registry, lineage = outboxed(database, MemoryLineageStore())
    await write_scenario(registry, lineage)
    units = delivery_units(await SqlOutbox(database).pending(1000))
    assert [unit[0].op for unit in units] == [OutboxOp.ADD, OutboxOp.CLOSE, OutboxOp.ADD]
    assert all(len({entry.op for entry in unit}) == 1 for unit in units)


class FailingAfter(LineageStore):
    """A real memory store that raises at a chosen point, as a dying relay would stop.

    ``apply_first``: the store applies the operation, then raises (the relay
    dies between the graph's acknowledgement and the outbox mark); otherwise
    it applies half of an add batch and raises (dies mid-batch).
    """

    def __init__(self, inner: MemoryLineageStore, *, fail_on: str, apply_first: bool) -> None:
        self.inner = inner
        self.fail_on = fail_on
        self.apply_first = apply_first
        self.armed = True

    async def add_edges(self, edges: Sequence[LineageEdge]) -> None:
        if self.armed and self.fail_on == "add":
            self.armed = False
            await self.inner.add_edges(edges if self.apply_first else edges[: len(edges) // 2])
            raise BackendUnavailableError("graph", "the relay died here")
        await self.inner.add_edges(edges)

    async def close_edges(self, tenant: str, node_ids: Sequence[str], at: datetime) -> int:
        if self.armed and self.fail_on == "close":
            self.armed = False
            await self.inner.close_edges(tenant, node_ids, at)
            raise BackendUnavailableError("graph", "the relay died here")
        return await self.inner.close_edges(tenant, node_ids, at)

    async def neighbors(self, *args: Any, **kwargs: Any) -> list[LineageEdge]:
        return await self.inner.neighbors(*args, **kwargs)


@pytest.mark.parametrize(
    ("fail_on", "apply_first"), [("add", False), ("add", True), ("close", True)], ids=str
)
async def test_a_relay_dying_mid_batch_loses_and_doubles_nothing(
    database: SqlDatabase, fail_on: str, apply_first: bool
) -> None:
    graph = MemoryLineageStore()
    registry, lineage = outboxed(database, graph)
    await write_scenario(registry, lineage)
    dying = OutboxRelay(SqlOutbox(database), FailingAfter(graph, fail_on=fail_on, apply_first=apply_first))
    with pytest.raises(BackendUnavailableError):
        await dying.drain()
    failed = [entry for entry in await SqlOutbox(database).pending(1000) if entry.attempts]
    assert failed
    assert all(entry.op.value == fail_on for entry in failed)
    # A new relay (another process, after a restart, once the dead one's lease expired).
    later = SqlOutbox(database, clock=lambda: datetime.now(tz=ts(0).tzinfo) + timedelta(minutes=5))
    restarted = OutboxRelay(later, graph, batch_size=1000)
    await restarted.drain()
    assert await SqlOutbox(database).backlog() == 0
    assert await snapshot(graph, NODES, INSTANTS) == await snapshot(await reference(), NODES, INSTANTS)


async def test_one_relay_at_a_time_and_a_dead_ones_lease_expires(database: SqlDatabase) -> None:
    now = [ts(0)]
    graph = MemoryLineageStore()
    registry, _ = outboxed(database, graph)
    await registry.insert_artifacts(chain(2))
    first = OutboxRelay(SqlOutbox(database, clock=lambda: now[0]), graph, lease_seconds=30, holder="one")
    second = OutboxRelay(SqlOutbox(database, clock=lambda: now[0]), graph, lease_seconds=30, holder="two")
    assert await SqlOutbox(database, clock=lambda: now[0]).acquire_lease("one", 30)
    assert await second.deliver_once() == 0  # "one" holds the lease
    assert await SqlOutbox(database).backlog() == 3
    now[0] = ts(31)  # "one" died without releasing it
    assert await second.deliver_once() == 3
    assert await first.deliver_once() == 0  # now "two" holds it
    await SqlOutbox(database).release_lease("two")
    assert await first.deliver_once() == 0  # free again, and nothing left


async def test_the_running_relay_is_woken_by_writes_and_stops_cleanly(database: SqlDatabase) -> None:
    graph = MemoryLineageStore()
    _, lineage = outboxed(database, graph)
    relay = OutboxRelay(SqlOutbox(database), graph, idle_seconds=60)  # only a wake-up can be this quick
    lineage.listeners.append(relay.notify)
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    try:
        await lineage.add_edges([produced("e1", "a1", at=ts(1))])

        async def delivered() -> bool:
            return bool(await graph.neighbors("t1", ["e1"], Direction.DOWNSTREAM))

        await eventually(delivered, "the relay to deliver after being woken", DEADLINE)
    finally:
        stop.set()
        await asyncio.wait_for(task, DEADLINE)
    assert relay.delivered == 1
    # The lease was released: another relay may start at once.
    assert await SqlOutbox(database).acquire_lease("next", 30)


async def test_the_relay_retries_an_unreachable_graph_with_backoff(database: SqlDatabase) -> None:
    graph = MemoryLineageStore()
    registry, _ = outboxed(database, graph)
    await registry.insert_artifacts(chain(2))
    flaky = FailingAfter(graph, fail_on="add", apply_first=False)
    relay = OutboxRelay(SqlOutbox(database), flaky, max_backoff=0.05, idle_seconds=0.01)
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    try:

        async def drained() -> bool:
            return await SqlOutbox(database).backlog() == 0

        await eventually(drained, "the relay to recover and drain the outbox", DEADLINE)
    finally:
        stop.set()
        await asyncio.wait_for(task, DEADLINE)
    assert relay.failures == 0
    assert len(await graph.neighbors("t1", ["e0", "e1", "a0"], Direction.DOWNSTREAM)) == 3


# -- a relay process killed with SIGKILL mid-batch ----------------------------

RELAY_PROCESS = """
import asyncio, sys
from artifact_plane.adapters.sql import SqlDatabase, SqlLineageStore
from artifact_plane.adapters.sql.outbox import SqlOutbox
from artifact_plane.relay import OutboxRelay

class HangsMidBatch(SqlLineageStore):
    async def add_edges(self, edges):
        await super().add_edges(edges[: len(edges) // 2])   # half the batch reaches the graph...
        print("HALF", len(edges), flush=True)
        await asyncio.Event().wait()                        # ...and the process is killed here

async def main():
    graph = HangsMidBatch(SqlDatabase(sys.argv[2]))
    await graph.initialize()
    await OutboxRelay(SqlOutbox(SqlDatabase(sys.argv[1])), graph, batch_size=1000).drain()

asyncio.run(main())
"""


async def test_a_relay_process_killed_mid_batch_loses_and_doubles_nothing(tmp_path: Path) -> None:
    registry_url, graph_url = f"sqlite:///{tmp_path / 'registry.db'}", f"sqlite:///{tmp_path / 'graph.db'}"
    database = SqlDatabase(registry_url)
    await database.initialize()
    registry, lineage = outboxed(database, MemoryLineageStore())
    await write_scenario(registry, lineage)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "platform"), str(REPO)])}
    process = subprocess.Popen(  # noqa: ASYNC220 - waited on below with a deadline
        [sys.executable, "-c", RELAY_PROCESS, registry_url, graph_url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(process.stdout.readline), DEADLINE)
        assert line.startswith("HALF"), process.stderr.read() if process.stderr else line
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(DEADLINE)
    graph = SqlLineageStore(SqlDatabase(graph_url))
    half = await graph.neighbors("t1", NODES, Direction.DOWNSTREAM)
    assert 0 < len(half) < 59  # some, not all, of the first unit's edges arrived
    assert await SqlOutbox(database).backlog() == _count(database, lineage_outbox)  # none marked
    # Restarted: the lease the dead relay held expires, then a new relay delivers everything.
    later = SqlOutbox(database, clock=lambda: datetime.now(tz=ts(0).tzinfo) + timedelta(minutes=5))
    await OutboxRelay(later, graph, batch_size=1000).drain()
    assert await SqlOutbox(database).backlog() == 0
    assert await snapshot(graph, NODES, INSTANTS) == await snapshot(await reference(), NODES, INSTANTS)
    await graph.close()
    await database.dispose()


# -- the migration -------------------------------------------------------------


def test_revision_0002_adds_the_outbox_to_a_0001_database_and_back(tmp_path: Path) -> None:
    from alembic import command
    from sqlalchemy import inspect

    from artifact_plane.adapters.sql.migrate import (
        alembic_config,
        current_revision,
        upgrade,
        upgrade_connection,
    )

    url = f"sqlite:///{tmp_path / 'registry.db'}"
    assert upgrade(url, revision="0001") == "0001"
    database = SqlDatabase(url)
    assert "lineage_outbox" not in inspect(database.engine).get_table_names()
    database.transact(lambda conn: upgrade_connection(conn, "0002"), write=True)
    assert database.transact(current_revision, write=False) == "0002"
    assert {"lineage_outbox", "lineage_outbox_lease"} <= set(inspect(database.engine).get_table_names())
    database.transact(lambda conn: command.downgrade(alembic_config(conn), "0001"), write=True)
    assert "lineage_outbox" not in inspect(database.engine).get_table_names()
    assert "lineage_edges" in inspect(database.engine).get_table_names()
    database.engine.dispose()


# -- PostgreSQL: outbox ids follow commit order within a tenant ------------------


def test_postgresql_queues_a_tenants_operations_in_commit_order(postgres_url: str) -> None:
    """A sequence hands out ids at insert time; a later writer of the same tenant waits for the first.

    Without that wait, a transaction that took id 1 and commits after one that
    took id 2 would have its operation applied after a later one.
    """
    import threading

    from sqlalchemy import select, text

    from artifact_plane.adapters.sql.outbox import enqueue_adds, enqueue_close

    database = SqlDatabase(postgres_url)
    database.migrate()
    first = database.engine.connect()
    first_tx = first.begin()
    enqueue_close(first, "t1", ["a1"], ts(5))  # takes the tenant's lock and the lower id; not committed
    done = threading.Event()

    def second_writer() -> None:
        database.transact(lambda conn: enqueue_adds(conn, [produced("e1", "a1", at=ts(6))]), write=True)
        done.set()

    writer = threading.Thread(target=second_writer)
    writer.start()
    waiting = text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
    wait_for(
        lambda: database.transact(lambda conn: conn.execute(waiting).scalar_one(), write=False) > 0,
        "the second writer to wait for the first",
        DEADLINE,
    )
    assert not done.is_set()
    # Another tenant does not wait.
    database.transact(
        lambda conn: enqueue_adds(conn, [produced("e9", "a9", tenant="t2", at=ts(6))]), write=True
    )
    first_tx.commit()
    first.close()
    writer.join(DEADLINE)
    assert done.is_set()
    rows = database.transact(
        lambda conn: conn.execute(
            select(lineage_outbox.c.tenant_id, lineage_outbox.c.op).order_by(lineage_outbox.c.id)
        ).all(),
        write=False,
    )
    assert [tuple(row) for row in rows if row.tenant_id == "t1"] == [("t1", "close"), ("t1", "add")]
    database.engine.dispose()


class LeaseStolenAfterAdds(LineageStore):
    """A memory graph; after the first add batch the lease expires and another relay takes it."""

    def __init__(self, inner: MemoryLineageStore, outbox: SqlOutbox, now: list[datetime]) -> None:
        self.inner, self.outbox, self.now = inner, outbox, now

    async def add_edges(self, edges: Sequence[LineageEdge]) -> None:
        await self.inner.add_edges(edges)
        self.now[0] += timedelta(seconds=31)  # this unit outlasted the lease...
        assert await self.outbox.acquire_lease("other", 30)  # ...and another relay took it

    async def close_edges(self, tenant: str, node_ids: Sequence[str], at: datetime) -> int:
        return await self.inner.close_edges(tenant, node_ids, at)

    async def neighbors(self, *args: Any, **kwargs: Any) -> list[LineageEdge]:
        return await self.inner.neighbors(*args, **kwargs)


async def test_a_relay_that_lost_its_lease_stops_before_the_next_unit(database: SqlDatabase) -> None:
    now = [ts(0)]
    outbox = SqlOutbox(database, clock=lambda: now[0])
    graph = MemoryLineageStore()
    registry, _ = outboxed(database, graph)
    await registry.insert_artifacts(chain(3))
    await registry.delete_artifacts("t1", ["a1"], ts(10))
    relay = OutboxRelay(outbox, LeaseStolenAfterAdds(graph, outbox, now), lease_seconds=30, holder="one")
    assert await relay.deliver_once() == 5  # the add unit; not the close after it
    [close] = await outbox.pending(100)
    assert close.op is OutboxOp.CLOSE
    assert len(await graph.neighbors("t1", ["a1"], Direction.DOWNSTREAM)) == 1  # still open
