"""SQL adapters (SQLAlchemy Core + Alembic): SQLite now, PostgreSQL with the same code.

One :class:`SqlDatabase` per database is shared by the three adapters, so a
record and its lineage edges are written in one transaction::

    database = SqlDatabase("sqlite:///registry.db")
    registry = SqlRegistry(database)
    lineage = SqlLineageStore(database)
    decisions = SqlDecisionLog(database)
    await registry.initialize()          # alembic upgrade head
"""

from __future__ import annotations

from artifact_plane.adapters.sql.decisions import SqlDecisionLog
from artifact_plane.adapters.sql.engine import SqlDatabase
from artifact_plane.adapters.sql.lineage import SqlLineageStore
from artifact_plane.adapters.sql.migrate import upgrade
from artifact_plane.adapters.sql.registry import SqlRegistry

__all__ = ["SqlDatabase", "SqlDecisionLog", "SqlLineageStore", "SqlRegistry", "upgrade"]
