"""delivery_items: drop the index on delivery_id alone

The unique constraint on (delivery_id, paper_id) already serves every lookup by delivery_id (its
leading column), so the single-column index only cost space and an index write per item planned.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("delivery_items") as batch_op:
        batch_op.drop_index("ix_delivery_items_delivery_id")


def downgrade() -> None:
    with op.batch_alter_table("delivery_items") as batch_op:
        batch_op.create_index("ix_delivery_items_delivery_id", ["delivery_id"], unique=False)
