"""subscribers.relevance_floor and subscribers.trending_share: per-subscriber ranking preferences

Both nullable: NULL means the service default (PAPERBOY_RELEVANCE_FLOOR, PAPERBOY_TRENDING_SHARE),
so changing a default reaches everybody who never chose their own.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("relevance_floor", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("trending_share", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.drop_column("trending_share")
        batch_op.drop_column("relevance_floor")
