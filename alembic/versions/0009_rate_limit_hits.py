"""rate_limit_hits: the per-IP subscribe limit, shared by every web process

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rate_limit_hits",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("window", sa.Integer(), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", "window"),
    )
    op.create_index(op.f("ix_rate_limit_hits_window"), "rate_limit_hits", ["window"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_rate_limit_hits_window"), table_name="rate_limit_hits")
    op.drop_table("rate_limit_hits")
