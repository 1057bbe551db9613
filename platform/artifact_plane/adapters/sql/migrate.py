"""Alembic migrations, run programmatically (no ``alembic.ini`` needed at run time).

The scripts live inside the package (``migrations/``), so ``upgrade`` works
from an installed wheel as well as from a checkout.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, text

from artifact_plane.adapters.sql.engine import SETTING, SqlDatabase
from artifact_plane.errors import ConfigurationError

__all__ = [
    "MIGRATIONS_DIR",
    "alembic_config",
    "current_revision",
    "head_revision",
    "upgrade",
    "upgrade_connection",
]

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Any fixed 64-bit number: PostgreSQL serialises concurrent upgrades on it.
_PG_MIGRATION_LOCK = 0x41505F6D6967


def alembic_config(connection: Connection | None = None, url: str | None = None) -> Config:
    """An Alembic ``Config`` pointing at the packaged scripts.

    ``migrations/env.py`` uses ``connection`` when given (the caller owns the
    transaction), else opens ``url``.
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest revision the scripts define."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships 0001
        raise RuntimeError("no migrations found")
    return head


def current_revision(connection: Connection) -> str | None:
    """The revision the database is at (None before the first upgrade)."""
    return MigrationContext.configure(connection).get_current_revision()


def upgrade_connection(connection: Connection, revision: str = "head") -> None:
    """Upgrade inside the caller's (write) transaction; DDL commits with it.

    Raises:
        ConfigurationError: the database is at a revision these scripts do not know.
    """
    if connection.dialect.name == "postgresql":
        # Two replicas starting at once would both try CREATE TABLE; the second waits here.
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
    try:
        command.upgrade(alembic_config(connection), revision)
    except CommandError as exc:
        # Typically a database migrated by a newer build: its revision is unknown here.
        raise ConfigurationError(
            SETTING,
            f"cannot migrate the database to {revision!r}: {exc} (is it from a newer artifact-plane?)",
        ) from exc


def upgrade(url: str, *, revision: str = "head", sqlite_synchronous: str = "FULL") -> str | None:
    """Migrate the database at ``url`` to ``revision``; return the revision it is at.

    Blocking (for the CLI's ``artifact-plane db upgrade``).

    Raises:
        ConfigurationError: the URL is not a supported database, or the
            database is at a revision these scripts do not know.
        BackendUnavailableError: the database cannot be reached.
    """
    database = SqlDatabase(url, sqlite_synchronous=sqlite_synchronous)
    try:
        database.transact(lambda conn: upgrade_connection(conn, revision), write=True)
        return database.transact(current_revision, write=False)
    finally:
        database.engine.dispose()
