"""deliveries: index the open ones by status (a partial index) instead of every status

A query for a subscriber's sent deliveries (their last digest date, loaded with each batch a
worker claims) could be planned on the status index when PostgreSQL's statistics were older than
the day's sends (say they saw none sent yet): a walk over every sent delivery's index entry for
each batch, growing with the table. Only the open ones (pending, deferred, sending) are looked
up by status (the planner resuming them), so only they are indexed; a query for sent ones can no
longer use it, and the index stays as small as a day's open deliveries.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

OPEN_STATUSES = "status IN ('pending', 'deferred', 'sending')"


def upgrade() -> None:
    with op.batch_alter_table("deliveries") as batch_op:
        batch_op.drop_index("ix_deliveries_status")
    op.create_index(
        "ix_deliveries_open", "deliveries", ["status"], unique=False,
        postgresql_where=sa.text(OPEN_STATUSES), sqlite_where=sa.text(OPEN_STATUSES),
    )  # fmt: skip


def downgrade() -> None:
    op.drop_index("ix_deliveries_open", table_name="deliveries")
    with op.batch_alter_table("deliveries") as batch_op:
        batch_op.create_index("ix_deliveries_status", ["status"], unique=False)
