"""``ArtifactFilter`` as SQL: every filter runs in the database, none in Python."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, distinct, func, select

from artifact_plane.adapters.sql.rows import keyset_after
from artifact_plane.adapters.sql.tables import artifact_tags, artifacts
from artifact_plane.ids import SemVer, uri_glob_regex
from artifact_plane.models import ArtifactFilter

__all__ = ["filtered_artifacts", "like_prefix"]


def like_prefix(prefix: str) -> str:
    """A ``LIKE`` pattern matching strings that start with ``prefix`` (escape character ``\\``)."""
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


def _conditions(tenant: str, query: ArtifactFilter) -> list[ColumnElement[bool]]:
    a = artifacts.c
    where: list[ColumnElement[bool]] = [a.tenant_id == tenant]
    if query.realm is not None:
        where.append(a.realm == query.realm)
    if query.artifact_type is not None:
        where.append(a.artifact_type == query.artifact_type)
    if query.status:
        where.append(a.status.in_([status.value for status in query.status]))
    if query.execution_id is not None:
        where.append(a.execution_id == query.execution_id)
    if query.created_after is not None:
        where.append(a.created_at >= query.created_after)
    if query.created_before is not None:
        where.append(a.created_at < query.created_before)
    if query.min_version is not None:
        # NULL >= x is never true: records without a version drop out, as they should.
        where.append(a.version_key >= SemVer.parse(query.min_version).sort_key())
    if query.uri_glob is not None:
        prefix, regex = uri_glob_regex(query.uri_glob)
        # LIKE narrows by the literal prefix; the anchored regex decides.
        where.append(a.uri.like(like_prefix(prefix), escape="\\"))
        where.append(a.uri.regexp_match(regex))
    tags = sorted(set(query.tags))
    if tags:
        t = artifact_tags.c
        having_all = (
            select(t.artifact_id)
            .where(t.tenant_id == tenant, t.tag.in_(tags))
            .group_by(t.artifact_id)
            .having(func.count(distinct(t.tag)) == len(tags))
        )
        where.append(a.artifact_id.in_(having_all))
    return where


def filtered_artifacts(
    tenant: str, query: ArtifactFilter, *, limit: int, after: tuple[datetime, str] | None
) -> Select[Any]:
    """The page query: matching rows of ``tenant`` by ``(created_at, artifact_id)``."""
    where = _conditions(tenant, query)
    page_start = keyset_after(artifacts.c.created_at, artifacts.c.artifact_id, after)
    if page_start is not None:
        where.append(page_start)
    return (
        select(artifacts).where(*where).order_by(artifacts.c.created_at, artifacts.c.artifact_id).limit(limit)
    )
