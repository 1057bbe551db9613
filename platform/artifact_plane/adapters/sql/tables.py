"""The registry schema as SQLAlchemy Core metadata.

This is the source of truth the migrations must reproduce: a test runs
``alembic upgrade head`` and compares the result with this metadata, so the
two cannot drift. Change a table here, then add a migration.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    text,
)

from artifact_plane.adapters.sql.coltypes import JsonDoc, SurrogateKey, UtcDateTime, byte_ordered

__all__ = [
    "artifact_names",
    "artifact_tags",
    "artifacts",
    "decisions",
    "executions",
    "lineage_edges",
    "lineage_outbox",
    "lineage_outbox_lease",
    "metadata",
]

# Stable constraint names, so migrations can refer to them on every backend.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
    }
)

# IDs are validated to 1-128 ASCII characters (ids.validate_id) before they get here.
ID = byte_ordered(128)
# Names and keys that are sorted, range-scanned or prefix-matched.
KEY = byte_ordered()

artifacts = Table(
    "artifacts",
    metadata,
    Column("tenant_id", ID, primary_key=True),
    Column("artifact_id", ID, primary_key=True),
    Column("artifact_type", Text, nullable=False),
    Column("realm", ID, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("payload_key", Text, nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("content_type", Text, nullable=False),
    Column("encoding", Text),
    Column("session_id", Text),
    Column("solution_id", Text),
    Column("intent_type", Text),
    Column("execution_id", ID),
    Column("owner", Text),
    Column("uri", KEY),
    Column("version", Text),
    # SemVer.sort_key(): byte order is semver precedence, so SQL can range-scan and sort it.
    Column("version_key", KEY),
    Column("schema_version", Text),
    Column("status", String(16), nullable=False),
    Column("ttl", Integer),
    Column("expires_at", UtcDateTime),
    Column("regenerable", Boolean, nullable=False),
    Column("retention_policy", Text),
    Column("capabilities", JsonDoc, nullable=False),
    # The record's tags in their given order; artifact_tags holds them again for filtering.
    Column("tags", JsonDoc, nullable=False),
    # Classification tags inherited along lineage (revision 0005); artifact_tags holds them too.
    Column("inherited_tags", JsonDoc, nullable=False, server_default="[]"),
    Column("metadata", JsonDoc, nullable=False),
    Column("created_by", Text),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Index("ix_artifacts_tenant_created", "tenant_id", "created_at", "artifact_id"),
    Index("uq_artifacts_tenant_uri_version", "tenant_id", "uri", "version_key", unique=True),
    Index("ix_artifacts_tenant_execution", "tenant_id", "execution_id"),
    Index("ix_artifacts_tenant_sha256", "tenant_id", "sha256"),
    Index("ix_artifacts_status_expires", "status", "expires_at"),
)

artifact_tags = Table(
    "artifact_tags",
    metadata,
    Column("tenant_id", ID, primary_key=True),
    Column("artifact_id", ID, primary_key=True),
    Column("tag", KEY, primary_key=True),
    ForeignKeyConstraint(
        ["tenant_id", "artifact_id"],
        ["artifacts.tenant_id", "artifacts.artifact_id"],
        ondelete="CASCADE",
    ),
    # Tag filters look up (tenant, tag) and join back on artifact_id.
    Index("ix_artifact_tags_tenant_tag", "tenant_id", "tag", "artifact_id"),
)

artifact_names = Table(
    "artifact_names",
    metadata,
    Column("tenant_id", ID, primary_key=True),
    Column("uri", KEY, primary_key=True),
)

executions = Table(
    "executions",
    metadata,
    Column("tenant_id", ID, primary_key=True),
    Column("execution_id", ID, primary_key=True),
    Column("realm", ID),
    Column("intent", Text),
    Column("operator", Text),
    Column("status", String(16), nullable=False),
    Column("inputs", JsonDoc, nullable=False),
    Column("outputs", JsonDoc, nullable=False),
    Column("error", Text),
    Column("started_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime),
    # The abandoned-execution sweep: running ones, oldest first.
    Index("ix_executions_status_started", "status", "started_at"),
)

lineage_edges = Table(
    "lineage_edges",
    metadata,
    Column("id", SurrogateKey, primary_key=True, autoincrement=True),
    Column("tenant_id", ID, nullable=False),
    Column("edge_key", KEY, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("source_id", ID, nullable=False),
    Column("target_id", ID, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    # Edges are never updated in place, only closed: history stays queryable with as_of.
    Column("closed_at", UtcDateTime),
    Index("ix_lineage_edges_tenant_source", "tenant_id", "source_id"),
    Index("ix_lineage_edges_tenant_target", "tenant_id", "target_id"),
    # An edge is open at most once; closed copies of it are history.
    Index(
        "uq_lineage_edges_tenant_key_open",
        "tenant_id",
        "edge_key",
        unique=True,
        sqlite_where=text("closed_at IS NULL"),
        postgresql_where=text("closed_at IS NULL"),
    ),
)

# Edge operations waiting for a graph store outside this database (ArangoDB, Neo4j):
# written in the record's transaction, delivered in ``id`` order by the relay.
lineage_outbox = Table(
    "lineage_outbox",
    metadata,
    Column("id", SurrogateKey, primary_key=True, autoincrement=True),
    Column("tenant_id", ID, nullable=False),
    Column("op", String(8), nullable=False),
    # add: {"edge": {...}}; close: {"node_ids": [...], "at": "..."} (see adapters/sql/outbox.py)
    Column("payload", JsonDoc, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("delivered_at", UtcDateTime),
    Column("attempts", Integer, nullable=False),
    Column("last_error", Text),
    Index(
        "ix_lineage_outbox_pending",
        "id",
        sqlite_where=text("delivered_at IS NULL"),
        postgresql_where=text("delivered_at IS NULL"),
    ),
    Index("ix_lineage_outbox_delivered_at", "delivered_at"),
)

# One row per relay lease: the relay holding it is the only one delivering.
lineage_outbox_lease = Table(
    "lineage_outbox_lease",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("holder", Text, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
)

decisions = Table(
    "decisions",
    metadata,
    Column("tenant_id", ID, primary_key=True),
    Column("decision_id", ID, primary_key=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("subject_id", ID, nullable=False),
    Column("action", Text, nullable=False),
    Column("resource_ref", Text, nullable=False),
    Column("allow", Boolean, nullable=False),
    Column("reasons", JsonDoc, nullable=False),
    Column("revision", Text, nullable=False),
    Column("engine", Text, nullable=False),
    Column("latency_ms", Float, nullable=False),
    # The input document, sensitive fields masked (revision 0005); NULL for older entries.
    Column("input", JsonDoc),
    # The hash chain (revision 0003; see ports/decisions.py): NULL until the sealer
    # links the entry, so appends never wait for the chain.
    Column("seq", BigInteger),
    Column("prev_hash", String(64)),
    Column("entry_hash", String(64)),
    Index("ix_decisions_tenant_created", "tenant_id", "created_at", "decision_id"),
    # The chain walk, and one position per entry even if two sealers ever raced.
    Index("uq_decisions_tenant_seq", "tenant_id", "seq", unique=True),
    # What the sealer takes next, oldest first.
    Index(
        "ix_decisions_unsealed",
        "tenant_id",
        "created_at",
        "decision_id",
        sqlite_where=text("seq IS NULL"),
        postgresql_where=text("seq IS NULL"),
    ),
)
