"""HTTP sources: validators per URL, ingest run status, comments and stars in sightings

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "http_validators",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("etag", sa.Text(), nullable=True),
        sa.Column("last_modified", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_http_validators")),
        sa.UniqueConstraint("url", name=op.f("uq_http_validators_url")),
    )
    with op.batch_alter_table("ingest_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("status", sa.String(length=20), nullable=True))
    with op.batch_alter_table("sightings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("comments", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("stars", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sightings", schema=None) as batch_op:
        batch_op.drop_column("stars")
        batch_op.drop_column("comments")
    with op.batch_alter_table("ingest_runs", schema=None) as batch_op:
        batch_op.drop_column("status")
    op.drop_table("http_validators")
