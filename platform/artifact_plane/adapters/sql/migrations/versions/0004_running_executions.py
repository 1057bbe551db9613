"""Running executions by start time: the abandoned-execution sweep's index.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23

Frozen, like 0001: names are spelled out here rather than imported.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_executions_status_started", "executions", ["status", "started_at"])


def downgrade() -> None:
    op.drop_index("ix_executions_status_started", table_name="executions")
