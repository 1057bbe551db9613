"""Translate the Neo4j driver's exceptions into the plane's error tree.

The one place where ``neo4j.exceptions`` are caught: every call the Neo4j
adapter makes runs inside :func:`translate_errors`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from neo4j import exceptions as neo

from artifact_plane.errors import (
    ArtifactPlaneError,
    BackendUnavailableError,
    ConfigurationError,
    ConflictError,
)

__all__ = ["BACKEND", "TransactionTimedOut", "translate_errors"]

BACKEND = "lineage graph (Neo4j)"
SETTING = "AP_LINEAGE_URL"
_TIMED_OUT = "Neo.ClientError.Transaction.TransactionTimedOut"
_MISSING_DATABASE = "Neo.ClientError.Database.DatabaseNotFound"


class TransactionTimedOut(Exception):
    """The server stopped a read past its time-out; the caller answers partially instead."""


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".splitlines()[0][:300]


@contextmanager
def translate_errors() -> Iterator[None]:
    """Re-raise driver exceptions as ``artifact_plane.errors`` classes.

    Raises:
        TransactionTimedOut: a read ran past its transaction time-out (caught by the store).
        BackendUnavailableError: Neo4j cannot be reached, or answered with a
            transient (retryable) error.
        ConfigurationError: credentials refused, no such database, or a bad driver setting.
        ConflictError: a uniqueness constraint refused a write (a concurrent writer won).
        ArtifactPlaneError: anything else (a bug; the API masks the message).
    """
    try:
        yield
    except ArtifactPlaneError:
        raise
    except (neo.AuthError, neo.Forbidden) as exc:
        raise ConfigurationError(
            SETTING, f"Neo4j refused the credentials or rights ({_reason(exc)}); fix user:password"
        ) from exc
    except neo.ConstraintError as exc:
        raise ConflictError("lineage graph", f"a concurrent write won ({_reason(exc)}); retry") from exc
    except neo.Neo4jError as exc:
        if exc.code.startswith(_TIMED_OUT):
            raise TransactionTimedOut(str(exc)) from exc
        if exc.code == _MISSING_DATABASE:
            raise ConfigurationError(SETTING, f"{_reason(exc)}: create the database or fix its name") from exc
        if isinstance(exc, neo.TransientError) or exc.is_retryable():
            raise BackendUnavailableError(BACKEND, _reason(exc)) from exc
        raise ArtifactPlaneError(f"unexpected Neo4j error: {_reason(exc)}") from exc
    except (neo.ServiceUnavailable, neo.SessionExpired, neo.ConnectionPoolError, OSError) as exc:
        raise BackendUnavailableError(BACKEND, _reason(exc)) from exc
    except neo.ConfigurationError as exc:
        raise ConfigurationError(SETTING, f"the Neo4j driver refused its settings: {_reason(exc)}") from exc
    except neo.DriverError as exc:
        raise ArtifactPlaneError(f"unexpected Neo4j driver error: {_reason(exc)}") from exc
