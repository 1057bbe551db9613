"""Policy resource documents straight from ``artifacts`` rows: what a policy audit reads by the million.

``record_from_row(row).resource(fields)`` validates a whole record to throw
most of it away; a million of them is most of an audit's time. This selects
only the asked columns and turns each row into the document those calls
would give, value for value (the registry contract suite checks it on every
backend):

* JSON columns (tags and the like) are selected as text and parsed here by
  the engine's own ``loads_json`` (empty ones without a decoder call), not
  through SQLAlchemy's JSON type; psycopg hands JSONB back already parsed;
* timestamps are written as pydantic writes them in JSON mode;
* ``inherited_tags`` of rows from before revision 0005 (NULL) is ``[]``, as
  ``record_from_row`` reads it.

The page's cursor (its last ``created_at``) comes with every row unparsed
(SQLite's text; psycopg's datetime) and only the last row's is read as an
instant, so no other row pays for parsing a timestamp on SQLite.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import Connection, String, Text, type_coerce

from artifact_plane.adapters.sql.engine import loads_json
from artifact_plane.adapters.sql.filters import filtered_artifacts
from artifact_plane.adapters.sql.tables import artifacts
from artifact_plane.models import ArtifactFilter, scanned_fields
from artifact_plane.ports.registry import ResourcePage

__all__ = ["scan_page"]

a = artifacts.c

_JSON_COLUMNS = frozenset({"capabilities", "tags", "inherited_tags", "metadata"})
_TIME_COLUMNS = frozenset({"expires_at", "created_at", "updated_at"})
_TIMESTAMP = TypeAdapter(datetime)


def _json(value: Any) -> Any:
    # SQLite's text, parsed here; psycopg parsed the JSONB already (through loads_json too).
    return loads_json(value) if isinstance(value, str) else value


def _tag_list(value: Any) -> Any:
    return [] if value is None else _json(value)


def _timestamp(value: datetime | None) -> Any:
    return None if value is None else _TIMESTAMP.dump_python(value, mode="json")


# How each scanned column's value becomes the resource's value (absent: as it is).
_CONVERT: dict[str, Callable[[Any], Any]] = {
    **dict.fromkeys(_JSON_COLUMNS, _json),
    "inherited_tags": _tag_list,
    **dict.fromkeys(_TIME_COLUMNS, _timestamp),
}


def _column(name: str) -> Any:
    column = artifacts.c[name]
    return type_coerce(column, Text).label(name) if name in _JSON_COLUMNS else column


def scan_page(
    conn: Connection,
    tenant: str,
    query: ArtifactFilter,
    fields: Iterable[str],
    *,
    limit: int,
    after: tuple[datetime, str] | None,
) -> ResourcePage:
    """One page of resource documents holding :func:`scanned_fields` of ``fields``, in list order."""
    names = sorted(scanned_fields(fields))  # every resource field is a column of that name
    stmt = filtered_artifacts(tenant, query, limit=limit, after=after).with_only_columns(
        *(_column(name) for name in names), type_coerce(a.created_at, String).label("page_at")
    )
    rows = conn.execute(stmt).all()
    if not rows:
        return ResourcePage([], None)
    converters = [(index, _CONVERT[name]) for index, name in enumerate(names) if name in _CONVERT]
    resources: list[dict[str, Any]] = []
    for row in rows:
        values = list(row)[:-1]
        for index, convert in converters:
            values[index] = convert(values[index])
        resources.append(dict(zip(names, values, strict=True)))
    return ResourcePage(resources, (_instant(rows[-1][-1]), resources[-1]["artifact_id"]))


def _instant(value: str | datetime) -> datetime:
    """A stored ``created_at`` as :class:`~artifact_plane.adapters.sql.coltypes.UtcDateTime` reads it."""
    at = datetime.fromisoformat(value) if isinstance(value, str) else value  # SQLite's naive UTC text
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
