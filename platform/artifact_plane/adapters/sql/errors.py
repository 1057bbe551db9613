"""Translate SQLAlchemy and driver exceptions into the plane's error tree.

The one place where database exceptions are caught: everything the SQL
adapters do runs inside :func:`translate_errors`, so no SQLAlchemy or driver
exception crosses a port.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import exc as sa_exc

from artifact_plane.errors import (
    ArtifactPlaneError,
    BackendUnavailableError,
    ConflictError,
    InvalidInputError,
)

__all__ = ["is_unique_violation", "translate_errors"]

BACKEND = "registry database"
# PostgreSQL SQLSTATE unique_violation; SQLite extended result codes for UNIQUE and PRIMARY KEY.
_PG_UNIQUE = "23505"
_SQLITE_UNIQUE = {"SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY"}


def is_unique_violation(error: BaseException | None) -> bool:
    """True when a driver exception reports a duplicate key."""
    if error is None:
        return False
    if getattr(error, "sqlstate", None) == _PG_UNIQUE or getattr(error, "pgcode", None) == _PG_UNIQUE:
        return True
    return getattr(error, "sqlite_errorname", None) in _SQLITE_UNIQUE


def _reason(error: BaseException) -> str:
    # The driver's own text, without SQLAlchemy's statement and parameter dump.
    orig = getattr(error, "orig", None) or error
    return f"{type(orig).__name__}: {orig}".splitlines()[0][:300]


@contextmanager
def translate_errors(conflict_ref: str = "record") -> Iterator[None]:
    """Re-raise database exceptions as ``artifact_plane.errors`` classes.

    Args:
        conflict_ref: what a duplicate key conflicts on, for ``ConflictError.ref``.

    Raises:
        ConflictError: a unique key is taken (the transaction was rolled back).
        InvalidInputError: a value the schema refuses (too long, NULL, ...).
        BackendUnavailableError: the database cannot be reached, or stayed locked.
        ArtifactPlaneError: any other database failure (a bug; the message is masked by the API).
    """
    try:
        yield
    except ArtifactPlaneError:
        raise
    except sa_exc.IntegrityError as exc:
        if is_unique_violation(exc.orig):
            raise ConflictError(conflict_ref, "exists already") from exc
        raise InvalidInputError("record", f"violates a database constraint ({_reason(exc)})") from exc
    except sa_exc.DataError as exc:
        raise InvalidInputError("record", f"a value does not fit its column ({_reason(exc)})") from exc
    except (
        sa_exc.OperationalError,
        sa_exc.InterfaceError,
        sa_exc.DisconnectionError,
        sa_exc.TimeoutError,
        sqlite3.OperationalError,
        OSError,
    ) as exc:
        raise BackendUnavailableError(BACKEND, _reason(exc)) from exc
    except sa_exc.StatementError as exc:
        # Raised while binding a value, before the database saw it.
        if isinstance(exc.orig, ArtifactPlaneError):  # e.g. UtcDateTime refusing a naive datetime
            raise exc.orig from exc
        if isinstance(exc.orig, (TypeError, ValueError)):  # e.g. metadata that is not JSON
            raise InvalidInputError("record", f"a value cannot be stored ({_reason(exc)})") from exc
        raise ArtifactPlaneError(f"unexpected database error: {_reason(exc)}") from exc
    except (sa_exc.SQLAlchemyError, sqlite3.Error) as exc:
        raise ArtifactPlaneError(f"unexpected database error: {_reason(exc)}") from exc
