"""The SQL adapters under the port contracts, and what only SQL can show.

Everything runs on SQLite. When psycopg is installed, the contracts and the
portable tests run on PostgreSQL too (the server of ``AP_TEST_POSTGRES_URL``,
else one started from the machine's binaries), each test in a fresh database.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta, timezone
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import pytest
from sqlalchemy import Connection, event, func, insert, select, text

from artifact_plane.adapters.sql import SqlDatabase, SqlDecisionLog, SqlLineageStore, SqlRegistry
from artifact_plane.adapters.sql.engine import normalize_url
from artifact_plane.adapters.sql.filters import like_prefix
from artifact_plane.adapters.sql.rows import CHUNK, artifact_row
from artifact_plane.adapters.sql.tables import artifact_names, artifact_tags, artifacts, lineage_edges
from artifact_plane.errors import (
    BackendUnavailableError,
    ConfigurationError,
    ConflictError,
    InvalidInputError,
)
from artifact_plane.models import ArtifactFilter
from artifact_plane.ports.decisions import DecisionLog
from artifact_plane.ports.lineage import Direction, LineageStore
from artifact_plane.ports.registry import Registry
from tests.contracts.builders import consumed, make_record, produced, ts
from tests.contracts.decisions_contract import DecisionChainContract, DecisionLogContract
from tests.contracts.lineage_contract import LineageContract
from tests.contracts.registry_contract import RegistryContract

# A directory is not a database file: SQLite fails to open it, as it would an unreachable server.
UNREACHABLE_URL = f"sqlite:///{Path(__file__).resolve().parent}"


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def count(database: SqlDatabase, table: Any) -> int:
    return database.transact(
        lambda conn: conn.execute(select(func.count()).select_from(table)).scalar_one(), write=False
    )


class TestSqlRegistry(RegistryContract):
    @pytest.fixture
    async def registry(self, tmp_path: Path) -> AsyncIterator[Registry]:
        registry = SqlRegistry(SqlDatabase(sqlite_url(tmp_path / "registry.db")))
        await registry.initialize()
        yield registry
        await registry.close()

    def lineage_of(self, registry: Registry) -> LineageStore | None:
        assert isinstance(registry, SqlRegistry)
        return SqlLineageStore(registry.database)

    def decision_log_of(self, registry: Registry) -> DecisionLog | None:
        assert isinstance(registry, SqlRegistry)
        return SqlDecisionLog(registry.database)

    async def unreachable_registry(self) -> Registry | None:
        return SqlRegistry(SqlDatabase(UNREACHABLE_URL))

    def batch_insert_is_atomic(self) -> bool:
        return True


class TestSqlLineage(LineageContract):
    @pytest.fixture
    async def lineage(self, tmp_path: Path) -> AsyncIterator[LineageStore]:
        store = SqlLineageStore(SqlDatabase(sqlite_url(tmp_path / "registry.db")))
        await store.initialize()
        yield store
        await store.close()

    async def unreachable_lineage(self) -> LineageStore | None:
        return SqlLineageStore(SqlDatabase(UNREACHABLE_URL))


class TestSqlDecisionLog(DecisionLogContract, DecisionChainContract):
    @pytest.fixture
    async def decision_log(self, tmp_path: Path) -> AsyncIterator[DecisionLog]:
        log = SqlDecisionLog(SqlDatabase(sqlite_url(tmp_path / "registry.db")))
        await log.initialize()
        yield log
        await log.close()

    async def unreachable_decision_log(self) -> DecisionLog | None:
        return SqlDecisionLog(SqlDatabase(UNREACHABLE_URL))

    # Tampering as someone with database access would: raw SQL, past the adapter.
    async def edit_entry(
        self, log: DecisionLog, tenant: str, decision_id: str, column: str, value: Any
    ) -> None:
        assert isinstance(log, SqlDecisionLog)
        assert column in {"allow", "subject_id", "entry_hash"}
        sql = text(f"UPDATE decisions SET {column} = :value WHERE tenant_id = :tenant AND decision_id = :id")
        params = {"value": value, "tenant": tenant, "id": decision_id}
        changed = await log.database.run(lambda conn: conn.execute(sql, params).rowcount, write=True)
        assert changed == 1

    async def delete_entry(self, log: DecisionLog, tenant: str, decision_id: str) -> None:
        assert isinstance(log, SqlDecisionLog)
        sql = text("DELETE FROM decisions WHERE tenant_id = :tenant AND decision_id = :id")
        params = {"tenant": tenant, "id": decision_id}
        changed = await log.database.run(lambda conn: conn.execute(sql, params).rowcount, write=True)
        assert changed == 1


# -- the same contracts on PostgreSQL, when a server is given -------------------

# Nothing listens on port 1: a refused connection, the plainest "unreachable".
UNREACHABLE_POSTGRES_URL = "postgresql://nobody@127.0.0.1:1/registry?connect_timeout=2"
NEEDS_DRIVER = "the PostgreSQL driver: pip install -e '.[postgres]'"


class TestPostgresRegistry(TestSqlRegistry):
    @pytest.fixture
    async def registry(self, postgres_url: str) -> AsyncIterator[Registry]:
        registry = SqlRegistry(SqlDatabase(postgres_url))
        await registry.initialize()
        yield registry
        await registry.close()

    async def unreachable_registry(self) -> Registry | None:
        pytest.importorskip("psycopg", reason=NEEDS_DRIVER)
        return SqlRegistry(SqlDatabase(UNREACHABLE_POSTGRES_URL))


class TestPostgresLineage(TestSqlLineage):
    @pytest.fixture
    async def lineage(self, postgres_url: str) -> AsyncIterator[LineageStore]:
        store = SqlLineageStore(SqlDatabase(postgres_url))
        await store.initialize()
        yield store
        await store.close()

    async def unreachable_lineage(self) -> LineageStore | None:
        pytest.importorskip("psycopg", reason=NEEDS_DRIVER)
        return SqlLineageStore(SqlDatabase(UNREACHABLE_POSTGRES_URL))


class TestPostgresDecisionLog(TestSqlDecisionLog):
    @pytest.fixture
    async def decision_log(self, postgres_url: str) -> AsyncIterator[DecisionLog]:
        log = SqlDecisionLog(SqlDatabase(postgres_url))
        await log.initialize()
        yield log
        await log.close()

    async def unreachable_decision_log(self) -> DecisionLog | None:
        pytest.importorskip("psycopg", reason=NEEDS_DRIVER)
        return SqlDecisionLog(SqlDatabase(UNREACHABLE_POSTGRES_URL))


@pytest.fixture
async def sqlite_database(tmp_path: Path) -> AsyncIterator[SqlDatabase]:
    # A directory that does not exist yet: the adapter must create it.
    database = SqlDatabase(sqlite_url(tmp_path / "data" / "registry.db"))
    await database.initialize()
    yield database
    await database.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SqlDatabase]:
    """A migrated, empty database of either backend (PostgreSQL only when configured)."""
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
    else:
        url = sqlite_url(tmp_path / "registry.db")
    database = SqlDatabase(url)
    await database.initialize()
    yield database
    await database.dispose()


# -- SQLite connection policy --------------------------------------------------


async def test_sqlite_runs_in_wal_with_full_sync_and_foreign_keys(sqlite_database: SqlDatabase) -> None:
    database = sqlite_database

    def pragmas(conn: Connection) -> tuple[Any, ...]:
        return tuple(
            conn.exec_driver_sql(f"PRAGMA {name}").scalar_one()
            for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
        )

    assert await database.run(pragmas, write=False) == ("wal", 2, 1, 30000)  # synchronous 2 = FULL


async def test_synchronous_follows_the_setting(tmp_path: Path) -> None:
    database = SqlDatabase(sqlite_url(tmp_path / "r.db"), sqlite_synchronous="NORMAL")
    level = await database.run(
        lambda conn: conn.exec_driver_sql("PRAGMA synchronous").scalar_one(), write=False
    )
    assert level == 1
    await database.dispose()


async def test_writes_begin_immediate_and_reads_stay_deferred(sqlite_database: SqlDatabase) -> None:
    database = sqlite_database
    begins: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.startswith("BEGIN"):
            begins.append(statement)

    event.listen(database.engine, "before_cursor_execute", record)
    try:
        registry = SqlRegistry(database)
        await registry.insert_artifact(make_record())
        await registry.list_artifacts("t1", ArtifactFilter(), limit=10)
    finally:
        event.remove(database.engine, "before_cursor_execute", record)
    assert begins == ["BEGIN IMMEDIATE", "BEGIN"]


def test_in_memory_and_unknown_databases_are_configuration_errors() -> None:
    for url in ("sqlite://", "sqlite:///:memory:", "mysql://db/x", "not a url", "postgresql+nodriver://h/db"):
        with pytest.raises(ConfigurationError):
            SqlDatabase(url)


def test_a_bare_postgresql_url_means_psycopg() -> None:
    assert normalize_url("postgresql://u@h/db").drivername == "postgresql+psycopg"
    assert normalize_url("postgres://u@h/db").drivername == "postgresql+psycopg"
    assert normalize_url("postgresql+psycopg://u@h/db").drivername == "postgresql+psycopg"


async def test_a_held_write_lock_past_the_busy_timeout_is_backend_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    registry = SqlRegistry(SqlDatabase(sqlite_url(path), busy_timeout=0.05))
    await registry.initialize()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(BackendUnavailableError, match="locked"):
            await registry.insert_artifact(make_record())
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    await registry.insert_artifact(make_record())  # the lock is gone: writes go through again
    await registry.close()


# -- concurrency ---------------------------------------------------------------


async def test_concurrent_inserts_from_many_tasks_never_see_database_is_locked(database: SqlDatabase) -> None:
    registry = SqlRegistry(database)
    writers = 60

    async def write(n: int) -> None:
        # A read before the write (the conflict check) is what trips a deferred BEGIN.
        edges = [consumed(f"in-{n}", f"exec-{n}"), produced(f"exec-{n}", f"out-{n}")]
        await registry.insert_artifact(make_record(artifact_id=f"out-{n}", tags=("t",)), edges)

    async with anyio.create_task_group() as group:
        for n in range(writers):
            group.start_soon(write, n)
    assert len(await registry.list_artifacts("t1", ArtifactFilter(), limit=1000)) == writers
    assert count(database, lineage_edges) == 2 * writers


def test_concurrent_writers_on_separate_engines_never_see_database_is_locked(tmp_path: Path) -> None:
    # Separate engines stand in for separate processes sharing one file.
    url = sqlite_url(tmp_path / "shared.db")
    SqlDatabase(url).migrate()
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def writer(n: int) -> None:
        database = SqlDatabase(url)
        registry = SqlRegistry(database)
        barrier.wait()
        try:
            for i in range(15):
                record = make_record(
                    artifact_id=f"w{n}-{i}", uri=f"artifact://insights/w{n}", version=f"1.0.{i}"
                )
                anyio.run(registry.insert_artifact, record, [produced(f"exec-{n}", record.artifact_id)])
                anyio.run(partial(registry.claim_name, exclusive=True), "t1", f"artifact://insights/c{n}-{i}")
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            database.engine.dispose()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    database = SqlDatabase(url)
    assert count(database, artifacts) == 8 * 15
    assert count(database, lineage_edges) == 8 * 15
    database.engine.dispose()


async def test_racing_exclusive_claims_have_exactly_one_winner(database: SqlDatabase) -> None:
    registry = SqlRegistry(database)
    outcomes: list[str] = []

    async def claim() -> None:
        try:
            await registry.claim_name("t1", "artifact://insights/one.json", exclusive=True)
            outcomes.append("won")
        except ConflictError:
            outcomes.append("conflict")

    async with anyio.create_task_group() as group:
        for _ in range(20):
            group.start_soon(claim)
    assert sorted(outcomes) == ["conflict"] * 19 + ["won"]


# -- atomicity -----------------------------------------------------------------


async def test_a_conflicting_insert_leaves_no_tags_edges_or_name(database: SqlDatabase) -> None:
    registry = SqlRegistry(database)
    await registry.insert_artifact(make_record(artifact_id="dup"))
    clash = make_record(
        artifact_id="dup", tags=("a", "b"), uri="artifact://insights/new.json", version="1.0.0"
    )
    with pytest.raises(ConflictError):
        await registry.insert_artifact(clash, [produced("exec-1", "dup"), consumed("in-1", "exec-1")])
    assert count(database, artifact_tags) == 0
    assert count(database, lineage_edges) == 0
    assert count(database, artifact_names) == 0
    assert count(database, artifacts) == 1


async def test_a_unique_violation_inside_a_transaction_rolls_it_all_back(database: SqlDatabase) -> None:
    # The race the up-front checks cannot see: the database's unique key decides.
    first, second = make_record(artifact_id="x1"), make_record(artifact_id="x1", tags=("z",))

    def work(conn: Connection) -> None:
        conn.execute(insert(artifacts), artifact_row(make_record(artifact_id="other")))
        conn.execute(insert(artifacts), artifact_row(first))
        conn.execute(insert(artifacts), artifact_row(second))

    with pytest.raises(ConflictError):
        await database.run(work, write=True)
    assert count(database, artifacts) == 0


async def test_delete_removes_tag_rows_and_closes_edges(database: SqlDatabase) -> None:
    registry = SqlRegistry(database)
    await registry.insert_artifact(make_record(artifact_id="a", tags=("x", "y")), [produced("e1", "a")])
    await registry.insert_artifact(make_record(artifact_id="b", tags=("x",)), [produced("e1", "b")])
    await registry.delete_artifacts("t1", ["a"], ts(50))
    assert count(database, artifact_tags) == 1
    rows = _rows(database, "SELECT target_id, closed_at IS NULL FROM lineage_edges ORDER BY target_id")
    assert [(target, bool(still_open)) for target, still_open in rows] == [("a", False), ("b", True)]


def _rows(database: SqlDatabase, sql: str) -> list[tuple[Any, ...]]:
    return database.transact(lambda conn: [tuple(r) for r in conn.execute(text(sql))], write=False)


# -- values --------------------------------------------------------------------


async def test_timestamps_in_any_zone_come_back_as_the_same_utc_instant(database: SqlDatabase) -> None:
    registry = SqlRegistry(database)
    local = datetime(2024, 6, 1, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=5, minutes=30)))
    await registry.insert_artifact(make_record(artifact_id="z", created_at=local))
    got = await registry.get_artifact("t1", "z")
    assert got.created_at == local
    assert got.created_at.tzinfo is UTC
    assert got.created_at == datetime(2024, 6, 1, 18, 29, 59, 999999, tzinfo=UTC)


async def test_sqlite_stores_utc_text_that_sorts_as_instants(sqlite_database: SqlDatabase) -> None:
    registry = SqlRegistry(sqlite_database)
    ahead = timezone(timedelta(hours=9))
    # 09:00+09:00 is 00:00 UTC: earlier than 08:00 UTC though its wall time is later.
    await registry.insert_artifact(
        make_record(artifact_id="tokyo", created_at=datetime(2024, 1, 2, 9, tzinfo=ahead))
    )
    await registry.insert_artifact(
        make_record(artifact_id="utc", created_at=datetime(2024, 1, 2, 8, tzinfo=UTC))
    )
    rows = _rows(sqlite_database, "SELECT artifact_id, created_at FROM artifacts ORDER BY created_at")
    assert rows == [("tokyo", "2024-01-02 00:00:00.000000"), ("utc", "2024-01-02 08:00:00.000000")]


async def test_naive_datetimes_are_rejected_not_guessed(database: SqlDatabase) -> None:
    registry = SqlRegistry(database)
    with pytest.raises(InvalidInputError):
        await registry.list_artifacts("t1", ArtifactFilter(created_after=datetime(2024, 1, 1)), limit=10)


async def test_metadata_that_is_not_json_is_invalid_input(database: SqlDatabase) -> None:
    registry = SqlRegistry(database)
    with pytest.raises(InvalidInputError):
        await registry.insert_artifact(make_record(metadata={"when": datetime(2024, 1, 1, tzinfo=UTC)}))
    assert count(database, artifacts) == 0


def test_like_prefix_escapes_wildcards() -> None:
    assert like_prefix("artifact://a_b/c%") == "artifact://a\\_b/c\\%%"


async def test_an_underscore_in_a_glob_prefix_is_literal(database: SqlDatabase) -> None:
    registry = SqlRegistry(database)
    for artifact_id, uri in (
        ("lit", "artifact://insights/a_b/r.json"),
        ("wild", "artifact://insights/aXb/r.json"),
    ):
        await registry.insert_artifact(make_record(artifact_id=artifact_id, uri=uri))
    found = await registry.list_artifacts(
        "t1", ArtifactFilter(uri_glob="artifact://insights/a_b/*"), limit=10
    )
    assert [r.artifact_id for r in found] == ["lit"]


# -- lineage queries -----------------------------------------------------------


@pytest.fixture
def selects(database: SqlDatabase) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            seen.append(statement)

    event.listen(database.engine, "before_cursor_execute", record)
    yield seen
    event.remove(database.engine, "before_cursor_execute", record)


async def test_neighbors_asks_once_for_the_whole_frontier(database: SqlDatabase, selects: list[str]) -> None:
    store = SqlLineageStore(database)
    await store.add_edges([produced(f"e{n}", f"a{n}-{k}", at=ts(k)) for n in range(50) for k in range(3)])
    selects.clear()
    found = await store.neighbors("t1", [f"e{n}" for n in range(50)], Direction.DOWNSTREAM, limit_per_node=2)
    assert len(found) == 100
    assert {e.target_id.split("-")[1] for e in found} == {"0", "1"}  # the two oldest of each node
    assert len(selects) == 1
    assert "row_number" in selects[0].lower()


async def test_a_traversal_makes_one_query_per_level(database: SqlDatabase, selects: list[str]) -> None:
    store = SqlLineageStore(database)
    chain = [consumed("a0", "e0"), produced("e0", "a1"), consumed("a1", "e1"), produced("e1", "a2")]
    await store.add_edges(chain)
    selects.clear()
    graph = await store.traverse("t1", "a0", Direction.DOWNSTREAM, depth=2, max_nodes=100)
    assert {n.id for n in graph.nodes} == {"a0", "e0", "a1", "e1", "a2"}
    if database.dialect == "postgresql":
        assert len(selects) == 2  # one recursive CTE for the nodes, one query for their edges
    else:
        assert len(selects) == 4  # four edge steps for two artifact hops
    selects.clear()
    await store.traverse("t1", "a0", Direction.DOWNSTREAM, depth=2, max_nodes=100, fanout_limit=5)
    assert len(selects) == 4  # a fan-out limit is the walk's, level by level, on every database


async def test_a_frontier_larger_than_one_chunk_is_answered_whole(database: SqlDatabase) -> None:
    store = SqlLineageStore(database)
    size = CHUNK + 7
    await store.add_edges([produced("e", f"a{n}", at=ts(n)) for n in range(size)])
    found = await store.neighbors("t1", [f"a{n}" for n in range(size)], Direction.UPSTREAM)
    assert len(found) == size
    assert [e.created_at for e in found] == sorted(e.created_at for e in found)


async def test_the_first_edge_of_a_key_wins_and_closed_edges_are_history(database: SqlDatabase) -> None:
    # The memory adapter's rules: first of a key wins; a closed edge is kept unless its key is open.
    store = SqlLineageStore(database)
    old = produced("e", "a", at=ts(0)).model_copy(update={"closed_at": ts(1)})
    first, later = produced("e", "a", at=ts(1)), produced("e", "a", at=ts(7))
    overlapping = produced("e", "a", at=ts(2)).model_copy(update={"closed_at": ts(3)})
    await store.add_edges([old])
    await store.add_edges([first, later])
    await store.add_edges([overlapping])
    assert await store.neighbors("t1", ["e"], Direction.DOWNSTREAM) == [first]
    assert await store.neighbors("t1", ["e"], Direction.DOWNSTREAM, as_of=ts(0.5)) == [old]
    assert count(database, lineage_edges) == 2


async def test_edges_of_another_tenant_are_refused_on_insert(database: SqlDatabase) -> None:
    registry = SqlRegistry(database)
    with pytest.raises(InvalidInputError):
        await registry.insert_artifacts(
            [
                (make_record(artifact_id="a"), []),
                (make_record(artifact_id="b"), [produced("e", "b", tenant="t2")]),
            ]
        )
    assert count(database, artifacts) == 0


async def test_ids_sort_by_bytes_on_every_backend(database: SqlDatabase) -> None:
    # The memory adapter sorts with Python's str order; a locale collation would not.
    registry = SqlRegistry(database)
    ids = ["b", "B", "a-2", "a_1", "a10", "a9", "Z", "_x", "-y", "0"]
    for artifact_id in ids:
        await registry.insert_artifact(make_record(artifact_id=artifact_id))
    found = await registry.list_artifacts("t1", ArtifactFilter(), limit=100)
    assert [r.artifact_id for r in found] == sorted(ids)
    page = await registry.list_artifacts("t1", ArtifactFilter(), limit=100, after=(ts(0), "a9"))
    assert [r.artifact_id for r in page] == [i for i in sorted(ids) if i > "a9"]


async def test_stores_on_one_database_share_its_transactions(database: SqlDatabase) -> None:
    registry, lineage, log = SqlRegistry(database), SqlLineageStore(database), SqlDecisionLog(database)
    await registry.insert_artifact(make_record(artifact_id="out"), [produced("exec", "out")])
    assert [e.target_id for e in await lineage.neighbors("t1", ["exec"], Direction.DOWNSTREAM)] == ["out"]
    await log.ping()
    assert database.engine is registry.database.engine is lineage.database.engine


async def test_a_page_after_a_key_seeks_the_index_instead_of_rereading_earlier_rows(
    database: SqlDatabase,
) -> None:
    """Keyset pages cost the same deep in a listing as at its start (an audit reads 2,000 of them).

    The plan is asked for the statement and parameters the driver was sent:
    SQLite plans ``created_at > ?`` as a seek only when it can see the bound
    values, so a plan of the statement with literals would prove nothing.
    """
    registry = SqlRegistry(database)
    await registry.initialize()
    await registry.insert_artifacts(
        [(make_record(artifact_id=f"k{n:04d}", created_at=ts(n // 2)), ()) for n in range(400)]
    )
    sent: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if statement.lstrip().startswith("SELECT") and "ORDER BY artifacts.created_at" in statement:
            sent.append((statement, parameters))

    event.listen(database.engine, "before_cursor_execute", capture)
    try:
        page = await registry.list_artifacts("t1", ArtifactFilter(), limit=3, after=(ts(150), "k0300"))
    finally:
        event.remove(database.engine, "before_cursor_execute", capture)
    assert [r.artifact_id for r in page] == ["k0301", "k0302", "k0303"]
    [(statement, parameters)] = sent
    sqlite = database.engine.dialect.name == "sqlite"

    def plan(conn: Connection) -> str:
        if sqlite:
            rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
            return " ".join(str(row[-1]) for row in rows)
        conn.exec_driver_sql("ANALYZE artifacts")
        conn.exec_driver_sql("SET LOCAL enable_seqscan = off")  # 400 rows: a seq scan would win
        return " ".join(str(row[0]) for row in conn.exec_driver_sql(f"EXPLAIN {statement}", parameters).all())

    shown = database.transact(plan, write=False)
    if sqlite:
        assert "ix_artifacts_tenant_created (tenant_id=? AND created_at>?)" in shown, shown
    else:
        assert "ix_artifacts_tenant_created" in shown, shown
        assert "AND (created_at >= '2024-01-01 00:02:30" in shown, shown


@pytest.mark.parametrize("text", ["[]", "{}", b"[]", b"{}", '["pii"]', b'{"a": [1]}', "null"])
def test_json_cells_read_the_same_from_text_and_bytes_and_empties_are_never_shared(text: str | bytes) -> None:
    """SQLite hands the JSON deserializer text, psycopg the JSONB's bytes: both take the same path."""
    import json

    from artifact_plane.adapters.sql.engine import loads_json

    first, second = loads_json(text), loads_json(text)
    assert first == second == json.loads(text)
    if isinstance(first, list | dict):
        assert first is not second  # a caller may change what it got
