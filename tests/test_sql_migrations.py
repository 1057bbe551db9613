"""Alembic migrations: they build exactly ``tables.py``, run from code, and render for PostgreSQL."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, Connection, Index, MetaData, Text, inspect, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.schema import CreateIndex, CreateTable

from artifact_plane.adapters.sql import SqlDatabase, SqlRegistry, upgrade
from artifact_plane.adapters.sql.migrate import (
    MIGRATIONS_DIR,
    alembic_config,
    current_revision,
    head_revision,
    upgrade_connection,
)
from artifact_plane.adapters.sql.tables import lineage_edges, metadata
from artifact_plane.errors import BackendUnavailableError, ConfigurationError
from tests.contracts.builders import make_record

TABLES = {
    "artifacts",
    "artifact_tags",
    "artifact_names",
    "executions",
    "lineage_edges",
    "lineage_outbox",
    "lineage_outbox_lease",
    "decisions",
}


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database with nothing in it yet (PostgreSQL only where it can run)."""
    if request.param == "postgresql":
        return str(request.getfixturevalue("postgres_url"))
    return f"sqlite:///{tmp_path / 'registry.db'}"


@pytest.fixture
def migrated(empty_url: str) -> Iterator[SqlDatabase]:
    database = SqlDatabase(empty_url)
    database.migrate()
    yield database
    database.engine.dispose()


def differences(database: SqlDatabase, target: MetaData) -> list[object]:
    def compare(conn: Connection) -> list[object]:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, target))

    return database.transact(compare, write=False)


def test_migrated_schema_matches_the_table_metadata(migrated: SqlDatabase) -> None:
    assert differences(migrated, metadata) == []
    names = set(inspect(migrated.engine).get_table_names())
    assert names == TABLES | {"alembic_version"}


def test_the_comparison_notices_drift(migrated: SqlDatabase) -> None:
    # Guards the test above: a column or index missing from the migrations must show up.
    drifted = MetaData(naming_convention=metadata.naming_convention)
    for table in metadata.sorted_tables:
        table.to_metadata(drifted)
    edges = drifted.tables["lineage_edges"]
    edges.append_column(Column("note", Text))
    Index("ix_lineage_edges_kind", edges.c.kind)
    kinds = {diff[0] for diff in differences(migrated, drifted) if isinstance(diff, tuple)}
    assert kinds == {"add_column", "add_index"}


def test_the_open_edge_index_is_partial_and_unique(migrated: SqlDatabase) -> None:
    [index] = [
        i for i in inspect(migrated.engine).get_indexes("lineage_edges") if i["name"].startswith("uq_")
    ]
    assert index["unique"]
    where = index.get("dialect_options", {}).get(f"{migrated.dialect}_where")
    assert "closed_at IS NULL" in str(where)


def test_replicas_starting_together_migrate_once(empty_url: str) -> None:
    # Each replica has its own engine; the database serialises them (SQLite's
    # write lock, PostgreSQL's advisory lock), so none sees a half-made schema.
    replicas = [SqlDatabase(empty_url) for _ in range(4)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(replicas))

    def start(database: SqlDatabase) -> None:
        barrier.wait()
        try:
            database.migrate()
        except BaseException as exc:  # asserted below
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(database,)) for database in replicas]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert differences(replicas[0], metadata) == []
    for database in replicas:
        database.engine.dispose()


def test_upgrade_creates_the_directory_and_is_idempotent(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new' / 'dir' / 'registry.db'}"
    assert upgrade(url) == head_revision()
    assert upgrade(url) == head_revision()
    assert (tmp_path / "new" / "dir" / "registry.db").is_file()


def test_upgrade_of_an_unreachable_database_is_backend_unavailable(tmp_path: Path) -> None:
    with pytest.raises(BackendUnavailableError):
        upgrade(f"sqlite:///{tmp_path}")  # a directory, not a database file


def test_a_database_from_a_newer_build_is_a_configuration_error(migrated: SqlDatabase) -> None:
    migrated.transact(
        lambda conn: conn.execute(text("UPDATE alembic_version SET version_num = '9999'")), write=True
    )
    with pytest.raises(ConfigurationError, match="9999"):
        migrated.transact(upgrade_connection, write=True)


async def test_initialize_keeps_data_across_restarts(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'registry.db'}"
    record = make_record()
    async with SqlRegistry(SqlDatabase(url)) as registry:
        await registry.insert_artifact(record)
    async with SqlRegistry(SqlDatabase(url)) as registry:
        assert await registry.get_artifact("t1", record.artifact_id) == record


def test_downgrade_to_base_and_back(migrated: SqlDatabase) -> None:
    def down(conn: Connection) -> None:
        command.downgrade(alembic_config(conn), "base")

    migrated.transact(down, write=True)
    assert set(inspect(migrated.engine).get_table_names()) == {"alembic_version"}
    assert migrated.transact(current_revision, write=False) is None
    migrated.transact(upgrade_connection, write=True)
    assert differences(migrated, metadata) == []


def test_scripts_ship_inside_the_package() -> None:
    assert MIGRATIONS_DIR.parent.name == "sql"
    assert (MIGRATIONS_DIR / "env.py").is_file()
    assert sorted(p.name for p in (MIGRATIONS_DIR / "versions").glob("*.py")) == [
        "0001_initial.py",
        "0002_outbox.py",
        "0003_decision_chain.py",
        "0004_running_executions.py",
        "0005_classification_and_decision_input.py",
    ]


def test_decisions_logged_before_0003_are_kept_unsealed(empty_url: str) -> None:
    # A database at 0002 with a decision in it: 0003 keeps the row and leaves it for the sealer.
    database = SqlDatabase(empty_url)

    def to_0002(conn: Connection) -> None:
        command.upgrade(alembic_config(conn), "0002")

    database.transact(to_0002, write=True)
    database.transact(
        lambda conn: conn.execute(
            text(
                "INSERT INTO decisions (tenant_id, decision_id, created_at, subject_id, action, "
                "resource_ref, allow, reasons, revision, engine, latency_ms) VALUES "
                "('t1', 'old', :at, 'alice', 'read', 'artifact_id:a1', :yes, '[]', 'r', 'rego', 0.5)"
            ),
            {
                "at": "2024-01-01 00:00:00.000000" if database.is_sqlite else "2024-01-01T00:00:00Z",
                "yes": True,
            },
        ),
        write=True,
    )
    database.transact(upgrade_connection, write=True)
    rows = database.transact(
        lambda conn: conn.execute(
            text("SELECT decision_id, seq, prev_hash, entry_hash FROM decisions")
        ).all(),
        write=False,
    )
    assert [tuple(row) for row in rows] == [("old", None, None, None)]
    assert differences(database, metadata) == []
    database.engine.dispose()


def test_the_chain_indexes_are_unique_and_partial(migrated: SqlDatabase) -> None:
    indexes = {i["name"]: i for i in inspect(migrated.engine).get_indexes("decisions")}
    assert indexes["uq_decisions_tenant_seq"]["unique"]
    assert indexes["uq_decisions_tenant_seq"]["column_names"] == ["tenant_id", "seq"]
    where = indexes["ix_decisions_unsealed"].get("dialect_options", {}).get(f"{migrated.dialect}_where")
    assert "seq IS NULL" in str(where)


# -- PostgreSQL, without a server: the same migrations and tables render for it --


def test_migrations_render_for_postgresql() -> None:
    buffer = io.StringIO()
    config = alembic_config(url="postgresql+psycopg://user@localhost/registry")
    config.output_buffer = buffer
    command.upgrade(config, "head", sql=True)
    sql = " ".join(buffer.getvalue().split())
    assert (
        "CREATE UNIQUE INDEX uq_lineage_edges_tenant_key_open ON lineage_edges (tenant_id, edge_key) " in sql
    )
    assert "WHERE closed_at IS NULL" in sql
    assert "created_at TIMESTAMP WITH TIME ZONE NOT NULL" in sql
    assert "metadata JSONB NOT NULL" in sql
    assert "id BIGSERIAL NOT NULL" in sql
    assert "size_bytes BIGINT NOT NULL" in sql


def test_table_metadata_renders_for_postgresql() -> None:
    dialect = postgresql.dialect()
    ddl = " ".join(str(CreateTable(table).compile(dialect=dialect)) for table in metadata.sorted_tables)
    assert "TIMESTAMP WITH TIME ZONE" in ddl
    assert "JSONB" in ddl
    [partial] = [i for i in lineage_edges.indexes if i.name == "uq_lineage_edges_tenant_key_open"]
    assert "WHERE closed_at IS NULL" in str(CreateIndex(partial).compile(dialect=dialect))
