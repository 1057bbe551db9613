"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Integer, String
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

from artifact_plane.errors import InvalidInputError

__all__ = ["JsonDoc", "SurrogateKey", "UtcDateTime", "byte_ordered"]

# JSONB on PostgreSQL (indexable, normalised), SQLite's JSON text elsewhere.
JsonDoc: TypeEngine[Any] = JSON().with_variant(postgresql.JSONB(), "postgresql")

# SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
SurrogateKey: TypeEngine[int] = BigInteger().with_variant(Integer(), "sqlite")


def byte_ordered(length: int | None = None) -> TypeEngine[str]:
    """A string column that compares and sorts by bytes on every backend.

    SQLite compares bytes already (BINARY). PostgreSQL gets ``COLLATE "C"``:
    sorting matches the reference adapter and semver sort keys, no locale or
    numeric collation can reorder keys, and ``LIKE 'prefix%'`` can use a btree.
    """
    return String(length).with_variant(String(length, collation="C"), "postgresql")


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC instant, exact to the microsecond.

    PostgreSQL stores ``timestamptz``. SQLite has no such type, so the value is
    stored as naive UTC text with microseconds (which sorts chronologically)
    and handed back tz-aware. Naive datetimes are rejected rather than guessed.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise InvalidInputError("timestamp", f"{value!r} must be timezone-aware")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
