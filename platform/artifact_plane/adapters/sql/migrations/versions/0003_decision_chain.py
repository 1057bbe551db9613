"""Decision chain: each decision's chain position and hashes, filled in by the sealer.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23

Frozen, like 0001: types are spelled out here rather than imported. The new
columns are nullable: an entry is appended unsealed (NULL) and sealed later,
and entries logged before this revision are sealed by the first seal.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("decisions", sa.Column("seq", sa.BigInteger()))
    op.add_column("decisions", sa.Column("prev_hash", sa.String(64)))
    op.add_column("decisions", sa.Column("entry_hash", sa.String(64)))
    op.create_index("uq_decisions_tenant_seq", "decisions", ["tenant_id", "seq"], unique=True)
    op.create_index(
        "ix_decisions_unsealed",
        "decisions",
        ["tenant_id", "created_at", "decision_id"],
        sqlite_where=sa.text("seq IS NULL"),
        postgresql_where=sa.text("seq IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_decisions_unsealed", table_name="decisions")
    op.drop_index("uq_decisions_tenant_seq", table_name="decisions")
    # SQLite drops columns only by rebuilding the table: batch mode does that.
    with op.batch_alter_table("decisions") as batch:
        batch.drop_column("entry_hash")
        batch.drop_column("prev_hash")
        batch.drop_column("seq")
