"""Initial registry schema: artifacts, tags, names, executions, lineage edges, decisions.

Revision ID: 0001
Revises:
Create Date: 2025-01-01

Frozen: this file spells its types out rather than importing ``tables.py``,
so later changes to the metadata never rewrite history.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Byte-ordered on PostgreSQL too (COLLATE "C"): see coltypes.byte_ordered.
ID = sa.String(128).with_variant(sa.String(128, collation="C"), "postgresql")
KEY = sa.String().with_variant(sa.String(collation="C"), "postgresql")
JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
SURROGATE = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "artifacts",
        sa.Column("tenant_id", ID, nullable=False),
        sa.Column("artifact_id", ID, nullable=False),
        sa.Column("artifact_type", sa.Text(), nullable=False),
        sa.Column("realm", ID, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("payload_key", sa.Text(), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("content_type", sa.Text(), nullable=False),
        sa.Column("encoding", sa.Text()),
        sa.Column("session_id", sa.Text()),
        sa.Column("solution_id", sa.Text()),
        sa.Column("intent_type", sa.Text()),
        sa.Column("execution_id", ID),
        sa.Column("owner", sa.Text()),
        sa.Column("uri", KEY),
        sa.Column("version", sa.Text()),
        sa.Column("version_key", KEY),
        sa.Column("schema_version", sa.Text()),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("ttl", sa.Integer()),
        sa.Column("expires_at", _utc()),
        sa.Column("regenerable", sa.Boolean(), nullable=False),
        sa.Column("retention_policy", sa.Text()),
        sa.Column("capabilities", JSON_DOC, nullable=False),
        sa.Column("tags", JSON_DOC, nullable=False),
        sa.Column("metadata", JSON_DOC, nullable=False),
        sa.Column("created_by", sa.Text()),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "artifact_id", name="pk_artifacts"),
    )
    op.create_index("ix_artifacts_tenant_created", "artifacts", ["tenant_id", "created_at", "artifact_id"])
    op.create_index(
        "uq_artifacts_tenant_uri_version", "artifacts", ["tenant_id", "uri", "version_key"], unique=True
    )
    op.create_index("ix_artifacts_tenant_execution", "artifacts", ["tenant_id", "execution_id"])
    op.create_index("ix_artifacts_tenant_sha256", "artifacts", ["tenant_id", "sha256"])
    op.create_index("ix_artifacts_status_expires", "artifacts", ["status", "expires_at"])

    op.create_table(
        "artifact_tags",
        sa.Column("tenant_id", ID, nullable=False),
        sa.Column("artifact_id", ID, nullable=False),
        sa.Column("tag", KEY, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "artifact_id", "tag", name="pk_artifact_tags"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "artifact_id"],
            ["artifacts.tenant_id", "artifacts.artifact_id"],
            name="fk_artifact_tags_tenant_id_artifacts",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_artifact_tags_tenant_tag", "artifact_tags", ["tenant_id", "tag", "artifact_id"])

    op.create_table(
        "artifact_names",
        sa.Column("tenant_id", ID, nullable=False),
        sa.Column("uri", KEY, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "uri", name="pk_artifact_names"),
    )

    op.create_table(
        "executions",
        sa.Column("tenant_id", ID, nullable=False),
        sa.Column("execution_id", ID, nullable=False),
        sa.Column("realm", ID),
        sa.Column("intent", sa.Text()),
        sa.Column("operator", sa.Text()),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("inputs", JSON_DOC, nullable=False),
        sa.Column("outputs", JSON_DOC, nullable=False),
        sa.Column("error", sa.Text()),
        sa.Column("started_at", _utc(), nullable=False),
        sa.Column("finished_at", _utc()),
        sa.PrimaryKeyConstraint("tenant_id", "execution_id", name="pk_executions"),
    )

    op.create_table(
        "lineage_edges",
        sa.Column("id", SURROGATE, autoincrement=True, nullable=False),
        sa.Column("tenant_id", ID, nullable=False),
        sa.Column("edge_key", KEY, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("source_id", ID, nullable=False),
        sa.Column("target_id", ID, nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("closed_at", _utc()),
        sa.PrimaryKeyConstraint("id", name="pk_lineage_edges"),
    )
    op.create_index("ix_lineage_edges_tenant_source", "lineage_edges", ["tenant_id", "source_id"])
    op.create_index("ix_lineage_edges_tenant_target", "lineage_edges", ["tenant_id", "target_id"])
    op.create_index(
        "uq_lineage_edges_tenant_key_open",
        "lineage_edges",
        ["tenant_id", "edge_key"],
        unique=True,
        sqlite_where=sa.text("closed_at IS NULL"),
        postgresql_where=sa.text("closed_at IS NULL"),
    )

    op.create_table(
        "decisions",
        sa.Column("tenant_id", ID, nullable=False),
        sa.Column("decision_id", ID, nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("subject_id", ID, nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("resource_ref", sa.Text(), nullable=False),
        sa.Column("allow", sa.Boolean(), nullable=False),
        sa.Column("reasons", JSON_DOC, nullable=False),
        sa.Column("revision", sa.Text(), nullable=False),
        sa.Column("engine", sa.Text(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "decision_id", name="pk_decisions"),
    )
    op.create_index("ix_decisions_tenant_created", "decisions", ["tenant_id", "created_at", "decision_id"])


def downgrade() -> None:
    op.drop_table("decisions")
    op.drop_table("lineage_edges")
    op.drop_table("executions")
    op.drop_table("artifact_names")
    op.drop_table("artifact_tags")
    op.drop_table("artifacts")
