"""Translate python-arango (and its HTTP layer's) exceptions into the plane's error tree.

The one place where ArangoDB exceptions are caught: every call the Arango
adapter makes runs inside :func:`translate_errors`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import arango.errno as errno
from arango.exceptions import ArangoClientError, ArangoError, ArangoServerError
from requests.exceptions import RequestException

from artifact_plane.errors import (
    ArtifactPlaneError,
    BackendUnavailableError,
    ConfigurationError,
    InvalidInputError,
)

__all__ = ["BACKEND", "QueryKilled", "translate_errors"]

BACKEND = "lineage graph (ArangoDB)"
SETTING = "AP_LINEAGE_URL"

# Retry-worthy server answers: overloaded, shutting down, a write-write conflict, a lock timeout.
_RETRYABLE = {
    errno.HTTP_SERVICE_UNAVAILABLE,
    errno.CONFLICT,
    errno.READ_ONLY,
    errno.QUERY_COLLECTION_LOCK_FAILED,
}
_REFUSED = {errno.HTTP_UNAUTHORIZED, errno.FORBIDDEN}
_MISSING = {errno.DATABASE_NOT_FOUND, errno.DATA_SOURCE_NOT_FOUND, errno.GRAPH_NOT_FOUND}


class QueryKilled(Exception):
    """A traversal ran past its ``max_runtime``; the caller answers partially instead."""


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".splitlines()[0][:300]


@contextmanager
def translate_errors() -> Iterator[None]:
    """Re-raise driver exceptions as ``artifact_plane.errors`` classes.

    Raises:
        QueryKilled: a query ran past its ``max_runtime`` (caught by the store).
        BackendUnavailableError: ArangoDB cannot be reached, is overloaded, or
            answered with a retryable conflict.
        ConfigurationError: credentials refused, or the database, collection
            or graph is missing (fix ``AP_LINEAGE_URL`` or the server).
        InvalidInputError: the server refused a value (e.g. a key too long).
        ArtifactPlaneError: anything else (a bug; the API masks the message).
    """
    try:
        yield
    except ArtifactPlaneError:
        raise
    except ArangoServerError as exc:
        code, http = exc.error_code, exc.http_code
        if code == errno.QUERY_KILLED:
            raise QueryKilled(str(exc)) from exc
        if code in _RETRYABLE or http in (502, 503, 504):
            raise BackendUnavailableError(BACKEND, _reason(exc)) from exc
        if code in _REFUSED or http in (401, 403):
            raise ConfigurationError(
                SETTING, f"ArangoDB refused the credentials or rights ({_reason(exc)}); fix user:password"
            ) from exc
        if code in _MISSING:
            raise ConfigurationError(
                SETTING, f"{_reason(exc)}: create the database or let the adapter create its schema"
            ) from exc
        if http == 400 and code not in (errno.QUERY_PARSE,):
            raise InvalidInputError("lineage", f"refused by ArangoDB ({_reason(exc)})") from exc
        raise ArtifactPlaneError(f"unexpected ArangoDB error: {_reason(exc)}") from exc
    except (ConnectionError, RequestException, OSError) as exc:
        # python-arango gives up on every host with ConnectionAbortedError; requests' timeouts.
        raise BackendUnavailableError(BACKEND, _reason(exc)) from exc
    except ArangoClientError as exc:
        raise ArtifactPlaneError(f"unexpected ArangoDB client error: {_reason(exc)}") from exc
    except ArangoError as exc:
        raise ArtifactPlaneError(f"unexpected ArangoDB error: {_reason(exc)}") from exc
