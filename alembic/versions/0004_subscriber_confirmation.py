"""subscribers: the pending confirmation (single-use nonce, requested settings) and the time of
the last confirmation mail (at most one per address per interval, across restarts)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("confirm_nonce", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("confirm_requested", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("confirm_sent_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.drop_column("confirm_sent_at")
        batch_op.drop_column("confirm_requested")
        batch_op.drop_column("confirm_nonce")
