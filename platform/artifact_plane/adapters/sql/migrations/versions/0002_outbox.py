"""Lineage outbox: edge operations for a graph store outside the registry database.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23

Frozen, like 0001: types are spelled out here rather than imported.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.String(128).with_variant(sa.String(128, collation="C"), "postgresql")
JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
SURROGATE = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "lineage_outbox",
        sa.Column("id", SURROGATE, autoincrement=True, nullable=False),
        sa.Column("tenant_id", ID, nullable=False),
        sa.Column("op", sa.String(8), nullable=False),
        sa.Column("payload", JSON_DOC, nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("delivered_at", _utc()),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text()),
        sa.PrimaryKeyConstraint("id", name="pk_lineage_outbox"),
    )
    op.create_index(
        "ix_lineage_outbox_pending",
        "lineage_outbox",
        ["id"],
        sqlite_where=sa.text("delivered_at IS NULL"),
        postgresql_where=sa.text("delivered_at IS NULL"),
    )
    op.create_index("ix_lineage_outbox_delivered_at", "lineage_outbox", ["delivered_at"])
    op.create_table(
        "lineage_outbox_lease",
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("holder", sa.Text(), nullable=False),
        sa.Column("expires_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_lineage_outbox_lease"),
    )


def downgrade() -> None:
    op.drop_table("lineage_outbox_lease")
    op.drop_index("ix_lineage_outbox_delivered_at", table_name="lineage_outbox")
    op.drop_index("ix_lineage_outbox_pending", table_name="lineage_outbox")
    op.drop_table("lineage_outbox")
