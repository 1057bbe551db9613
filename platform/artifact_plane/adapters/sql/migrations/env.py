"""Alembic environment for the registry schema.

Run programmatically by ``artifact_plane.adapters.sql.migrate`` (which hands in
a connection inside its own transaction), or by developers::

    cd platform/artifact_plane/adapters/sql
    alembic -x url=sqlite:///dev.db upgrade head
    alembic -x url=sqlite:///dev.db revision --autogenerate -m "what changed"
"""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from sqlalchemy import Connection

from artifact_plane.adapters.sql.tables import metadata

config = context.config
if config.config_file_name is not None:
    # Only the developer CLI has an ini file; the plane configures its own logging.
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        compare_type=True,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def _url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("give the database: alembic -x url=sqlite:///path.db ...")
    return url


def run_offline() -> None:
    """Print the SQL (``alembic upgrade head --sql``) without a database."""
    context.configure(
        url=_url(),
        target_metadata=metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    """Migrate through the caller's connection, or open one from the URL."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        return
    from artifact_plane.adapters.sql.engine import SqlDatabase

    database = SqlDatabase(_url())
    try:
        database.transact(_configure, write=True)
    finally:
        database.engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
