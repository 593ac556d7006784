"""subscribers.soft_bounces and suppressed_reason: bounce and complaint suppression

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("soft_bounces", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("suppressed_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.drop_column("suppressed_reason")
        batch_op.drop_column("soft_bounces")
