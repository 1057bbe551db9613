"""Conversions between domain models and table rows, plus shared statements."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Connection, RowMapping, Table, and_, exists, insert, or_, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from artifact_plane.adapters.sql.errors import is_unique_violation
from artifact_plane.adapters.sql.tables import (
    artifact_names,
    artifact_tags,
    artifacts,
    executions,
    lineage_edges,
)
from artifact_plane.errors import ConflictError, InvalidInputError
from artifact_plane.models import ArtifactRecord, DecisionRecord, EdgeKind, Execution, LineageEdge

__all__ = [
    "CHUNK",
    "artifact_row",
    "chunked",
    "close_edges_touching",
    "decision_row",
    "dialect_insert",
    "edge_row",
    "execution_row",
    "insert_ignoring",
    "insert_open_edges",
    "insert_record",
    "keyset_after",
    "record_from_row",
    "to_decision",
    "to_edge",
    "to_execution",
]

T = TypeVar("T")

# Bound parameters per IN list: well under SQLite's 32766 and cheap for PostgreSQL to plan.
CHUNK = 5000


def chunked(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    """``items`` in slices of at most ``size``."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def artifact_row(record: ArtifactRecord) -> dict[str, Any]:
    """The ``artifacts`` row for a record.

    Raises:
        InvalidInputError: ``metadata`` is not JSON (checked here: psycopg would
            only find out inside the driver, past the error translation).
    """
    try:
        json.dumps(record.metadata)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError("metadata", f"must be JSON: {exc}") from exc
    row = record.model_dump(mode="python")
    row["status"] = record.status.value
    row["capabilities"] = list(record.capabilities)
    row["tags"] = list(record.tags)
    row["inherited_tags"] = list(record.inherited_tags)
    return row


def record_from_row(row: RowMapping) -> ArtifactRecord:
    """An ``ArtifactRecord`` from an ``artifacts`` row."""
    values = dict(row)
    values["capabilities"] = tuple(values["capabilities"])
    values["tags"] = tuple(values["tags"])
    values["inherited_tags"] = tuple(values["inherited_tags"] or ())
    return ArtifactRecord.model_validate(values)


def edge_row(edge: LineageEdge) -> dict[str, Any]:
    """The ``lineage_edges`` row for an edge."""
    return {
        "tenant_id": edge.tenant_id,
        "edge_key": edge.key,
        "kind": edge.kind.value,
        "source_id": edge.source_id,
        "target_id": edge.target_id,
        "created_at": edge.created_at,
        "closed_at": edge.closed_at,
    }


def to_edge(row: RowMapping) -> LineageEdge:
    """A ``LineageEdge`` from a ``lineage_edges`` row.

    Built without validation: rows were validated on the way in, and a deep
    walk builds tens of thousands of these.
    """
    return LineageEdge.model_construct(
        tenant_id=row["tenant_id"],
        kind=EdgeKind(row["kind"]),
        source_id=row["source_id"],
        target_id=row["target_id"],
        created_at=row["created_at"],
        closed_at=row["closed_at"],
    )


def execution_row(execution: Execution) -> dict[str, Any]:
    """The ``executions`` row for an execution."""
    row = execution.model_dump(mode="python")
    row["status"] = execution.status.value
    row["inputs"] = list(execution.inputs)
    row["outputs"] = list(execution.outputs)
    return row


def to_execution(row: RowMapping) -> Execution:
    """An ``Execution`` from an ``executions`` row."""
    values = {column.name: row[column.name] for column in executions.columns}
    values["inputs"] = tuple(values["inputs"])
    values["outputs"] = tuple(values["outputs"])
    return Execution.model_validate(values)


def decision_row(record: DecisionRecord) -> dict[str, Any]:
    """The ``decisions`` row for a decision."""
    row = record.model_dump(mode="python")
    row["reasons"] = list(record.reasons)
    return row


def to_decision(row: RowMapping) -> DecisionRecord:
    """A ``DecisionRecord`` from a ``decisions`` row."""
    # The record's own fields: the row also holds the hash chain's columns.
    values = {name: row[name] for name in DecisionRecord.model_fields}
    values["reasons"] = tuple(values["reasons"])
    return DecisionRecord.model_validate(values)


def dialect_insert(conn: Connection, table: Table) -> Any:
    """The dialect's own ``INSERT`` (it alone has ``on_conflict_do_*``)."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def insert_ignoring(
    conn: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    index_elements: Sequence[str],
    index_where: ColumnElement[bool] | None = None,
) -> int:
    """``INSERT ... ON CONFLICT (index_elements) DO NOTHING``; return rows inserted.

    Both SQLite and PostgreSQL spell it the same, but SQLAlchemy builds it per
    dialect, so the statement comes from :func:`dialect_insert`.
    """
    if not rows:
        return 0
    stmt = (
        dialect_insert(conn, table)
        .on_conflict_do_nothing(index_elements=list(index_elements), index_where=index_where)
        # Count by RETURNING: rowcount of an INSERT is not reported on every driver (psycopg: -1).
        .returning(*(table.c[name] for name in index_elements))
    )
    return len(conn.execute(stmt, [dict(row) for row in rows]).all())


def insert_open_edges(conn: Connection, edges: Iterable[LineageEdge]) -> int:
    """Insert edges, skipping any whose key is already open in its tenant; return how many were new.

    The first edge of a key wins, as in the reference adapter. An edge that
    arrives closed is history: kept unless its key is open.
    """
    opening: dict[tuple[str, str], dict[str, Any]] = {}
    closed: list[dict[str, Any]] = []
    for edge in edges:
        if edge.closed_at is None:
            opening.setdefault((edge.tenant_id, edge.key), edge_row(edge))
        else:
            closed.append(edge_row(edge))
    inserted = insert_ignoring(
        conn,
        lineage_edges,
        list(opening.values()),
        index_elements=["tenant_id", "edge_key"],
        index_where=lineage_edges.c.closed_at.is_(None),
    )
    if closed:
        e = lineage_edges.c
        keys = [(row["tenant_id"], row["edge_key"]) for row in closed]
        open_now = select(e.tenant_id, e.edge_key).where(
            tuple_(e.tenant_id, e.edge_key).in_(keys), e.closed_at.is_(None)
        )
        taken = {(row.tenant_id, row.edge_key) for row in conn.execute(open_now)}
        history = [row for row in closed if (row["tenant_id"], row["edge_key"]) not in taken]
        if history:
            conn.execute(insert(lineage_edges), history)
        inserted += len(history)
    return inserted


def keyset_after(
    time_column: ColumnElement[Any], id_column: ColumnElement[Any], after: tuple[Any, str] | None
) -> ColumnElement[bool] | None:
    """``(time, id) > after``, spelled out so both SQLite and PostgreSQL seek the index to it.

    ``time >= at`` is what makes it a seek: with only ``time > at OR (time = at
    AND id > last)`` SQLite's plan walks the tenant's index from its first
    entry and filters, so the thousandth page read every row before it again.
    The second condition only drops the rows of ``at`` up to ``last``.
    """
    if after is None:
        return None
    at, last_id = after
    return and_(time_column >= at, or_(time_column > at, id_column > last_id))


def close_edges_touching(conn: Connection, tenant: str, node_ids: Sequence[str], at: Any) -> int:
    """Close (set ``closed_at``) every open edge of ``tenant`` touching ``node_ids``; return how many."""
    e = lineage_edges.c
    closed = 0
    for chunk in chunked(list(dict.fromkeys(node_ids))):
        stmt = (
            lineage_edges.update()
            .where(
                e.tenant_id == tenant,
                e.closed_at.is_(None),
                or_(e.source_id.in_(chunk), e.target_id.in_(chunk)),
            )
            .values(closed_at=at)
        )
        closed += conn.execute(stmt).rowcount
    return closed


def insert_record(conn: Connection, record: ArtifactRecord, edges: Sequence[LineageEdge]) -> None:
    """Insert a record, its tag rows, its name and its edges (the caller owns the transaction).

    Raises:
        ConflictError: the ID, or the URI and version, is taken in the tenant.
    """
    # The unique indexes decide, in the insert's one round trip: no query first.
    # A plain INSERT is also the cheapest statement for SQLAlchemy to run (no
    # ON CONFLICT, no RETURNING): this is the hot path of every create.
    try:
        conn.execute(insert(artifacts), artifact_row(record))
    except IntegrityError as exc:
        if is_unique_violation(exc.orig):
            raise RecordTakenError(record) from exc
        raise
    tags = [
        {"tenant_id": record.tenant_id, "artifact_id": record.artifact_id, "tag": tag}
        for tag in dict.fromkeys((*record.tags, *record.inherited_tags))
    ]
    if tags:
        conn.execute(insert(artifact_tags), tags)
    if record.uri is not None:
        # A name with versions exists, claimed or not: claim_name must see it.
        name = {"tenant_id": record.tenant_id, "uri": record.uri}
        insert_ignoring(conn, artifact_names, [name], index_elements=["tenant_id", "uri"])
    insert_open_edges(conn, edges)


class RecordTakenError(ConflictError):
    """A record's ID, or URI and version, is taken; :func:`which_conflict` says which.

    On PostgreSQL the failed insert aborts its transaction, so the registry
    asks in a new one.
    """

    def __init__(self, record: ArtifactRecord) -> None:
        super().__init__(record.artifact_id, "an artifact with this ID or version exists already")
        self.record = record


def which_conflict(conn: Connection, record: ArtifactRecord) -> ConflictError:
    """The conflict that kept ``record`` out, told apart for a precise message."""
    a = artifacts.c
    key = (a.tenant_id == record.tenant_id, a.artifact_id == record.artifact_id)
    if conn.execute(select(exists().where(*key))).scalar_one():
        return ConflictError(record.artifact_id, "an artifact with this ID exists already")
    if record.uri is not None and record.version_key is not None:
        return ConflictError(f"{record.uri}@{record.version}", "this version exists already")
    return ConflictError(record.artifact_id, "was taken by a concurrent writer; retry")


def insert_records(conn: Connection, items: Sequence[tuple[ArtifactRecord, Sequence[LineageEdge]]]) -> None:
    """Insert many records set-wise: one query per check, one ``executemany`` per table.

    The same rules as :func:`insert_record`, in a handful of statements
    instead of several per record (the caller owns the transaction).

    Raises:
        ConflictError: an ID, or a URI and version, is taken (or repeated in the batch).
    """
    if len(items) == 1:
        insert_record(conn, *items[0])
        return
    a = artifacts.c
    records = [record for record, _ in items]
    ids = [(r.tenant_id, r.artifact_id) for r in records]
    named = [(r.tenant_id, r.uri, r.version_key) for r in records if r.uri is not None and r.version_key]
    if len(set(ids)) != len(ids) or len(set(named)) != len(named):
        raise ConflictError("artifact batch", "the batch holds the same ID or URI version twice")
    for id_chunk in chunked(ids):
        found = select(a.artifact_id).where(tuple_(a.tenant_id, a.artifact_id).in_(id_chunk))
        if (taken := conn.execute(found).first()) is not None:
            raise ConflictError(taken.artifact_id, "an artifact with this ID exists already")
    for name_chunk in chunked(named):
        versions = select(a.uri, a.version).where(tuple_(a.tenant_id, a.uri, a.version_key).in_(name_chunk))
        if (clash := conn.execute(versions).first()) is not None:
            raise ConflictError(f"{clash.uri}@{clash.version}", "this version exists already")
    conn.execute(insert(artifacts), [artifact_row(r) for r in records])
    tags = [
        {"tenant_id": r.tenant_id, "artifact_id": r.artifact_id, "tag": tag}
        for r in records
        for tag in dict.fromkeys((*r.tags, *r.inherited_tags))
    ]
    if tags:
        conn.execute(insert(artifact_tags), tags)
    names = {(r.tenant_id, r.uri): {"tenant_id": r.tenant_id, "uri": r.uri} for r in records if r.uri}
    insert_ignoring(conn, artifact_names, list(names.values()), index_elements=["tenant_id", "uri"])
    insert_open_edges(conn, [edge for _, edges in items for edge in edges])
