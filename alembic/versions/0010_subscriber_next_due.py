"""subscribers.next_due_at: when the planner next looks at a subscriber, indexed, so a scheduler
tick reads only who is due

Back-fill: every active subscriber is due at once (1970-01-01 UTC): the next tick works out their
real next digest by the planner's rules (catch-up included), so nothing is lost; others stay NULL
(never due until they are active again).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("subscribers") as batch:
        batch.add_column(sa.Column("next_due_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_index(op.f("ix_subscribers_next_due_at"), ["next_due_at"], unique=False)
    subscribers = sa.table(
        "subscribers",
        sa.column("status", sa.String),
        sa.column("next_due_at", sa.DateTime(timezone=True)),
    )
    due_now = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    if op.get_bind().dialect.name == "sqlite":
        due_now = due_now.replace(tzinfo=None)  # the way UTCDateTime stores it there
    op.execute(
        subscribers.update().where(subscribers.c.status == "active").values(next_due_at=due_now)
    )


def downgrade() -> None:
    with op.batch_alter_table("subscribers") as batch:
        batch.drop_index(op.f("ix_subscribers_next_due_at"))
        batch.drop_column("next_due_at")
