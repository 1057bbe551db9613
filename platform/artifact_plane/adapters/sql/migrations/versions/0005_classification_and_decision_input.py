"""Inherited classification tags on artifacts; the (masked) input of each decision.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23

Frozen, like 0001: types are spelled out here rather than imported.

* ``artifacts.inherited_tags``: the classification tags (``pii``, …) an
  artifact inherits from its lineage inputs. Rows written before this
  revision inherit nothing until a lineage change propagates to them.
* ``decisions.input``: the policy input document a decision was made on,
  with sensitive fields masked; NULL for entries logged before this revision.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.add_column("artifacts", sa.Column("inherited_tags", _JSON, nullable=False, server_default="[]"))
    op.add_column("decisions", sa.Column("input", _JSON))


def downgrade() -> None:
    # SQLite drops columns only by rebuilding the table: batch mode does that.
    with op.batch_alter_table("decisions") as batch:
        batch.drop_column("input")
    with op.batch_alter_table("artifacts") as batch:
        batch.drop_column("inherited_tags")
